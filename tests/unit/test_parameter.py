"""Parameters: defaults, required values and clear errors for bad parameter input."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from headwater import DateTimeParameter, Flow, Parameter, context, task


@task
def echo(x: Any) -> Any:
    return x


def test_required_follows_the_default() -> None:
    assert Parameter("a").required is True
    assert Parameter("b", default=1).required is False
    assert Parameter("c", default=None, required=False).required is False
    assert Parameter("d", default=1, required=True).required is True
    p = Parameter("e")
    assert p.slug == "e" and repr(p) == "<Parameter: e>"
    with pytest.raises(TypeError, match=r"non-empty string"):
        Parameter("")


def test_values_defaults_and_keyword_form() -> None:
    with Flow("f") as flow:
        a = echo(Parameter("a"))
        b = echo(Parameter("b", default=10))
    state = flow.run(parameters={"a": 1})
    assert state.result[a].result == 1 and state.result[b].result == 10
    state = flow.run(a=2, b=3)
    assert state.result[a].result == 2 and state.result[b].result == 3


def test_missing_required_parameter_is_a_value_error_naming_it() -> None:
    with Flow("f") as flow:
        echo(Parameter("needed"))
        echo(Parameter("optional", default=1))
    with pytest.raises(ValueError, match=r"did not receive the required parameters: needed"):
        flow.run()


def test_unknown_parameter_is_a_value_error_naming_it() -> None:
    with Flow("f") as flow:
        echo(Parameter("x", default=1))
    with pytest.raises(ValueError, match=r"unexpected parameters: typo"):
        flow.run(parameters={"typo": 1})


def test_parameters_created_in_a_flow_join_it_and_are_listed() -> None:
    with Flow("f") as flow:
        p = Parameter("unused", default=3)
        q = Parameter("used", default=4)
        echo(q)
    assert flow.parameters() == {p, q}
    assert flow.run().result[p].result == 3


def test_two_parameters_cannot_share_a_name() -> None:
    with Flow("f"):
        Parameter("x", default=1)
        with pytest.raises(ValueError, match='slug "x" already exists'):
            Parameter("x", default=2)


def test_copy_needs_a_new_name() -> None:
    p = Parameter("x", default=1)
    with pytest.raises(ValueError, match=r"'x': a copy needs a new name"):
        p.copy()
    q = p.copy(name="y")
    assert q.name == "y" and q.slug == "y"


def test_parameters_are_in_the_context() -> None:
    @task
    def read() -> Any:
        return dict(context.parameters)

    with Flow("f") as flow:
        Parameter("x", default=1)
        r = read()
    assert flow.run(x=5).result[r].result == {"x": 5}


def test_running_a_required_parameter_without_value_fails_its_task() -> None:
    from headwater.engine import signals

    with pytest.raises(signals.FAIL, match='Parameter "x" was required'):
        Parameter("x").run()


def test_datetime_parameter_parses_iso_strings() -> None:
    with Flow("f") as flow:
        d = DateTimeParameter("when", required=False)
    state = flow.run(when="2026-01-02T03:04:05+00:00")
    assert state.result[d].result == datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    assert flow.run().result[d].result is None
    bad = flow.run(when="yesterday")
    assert bad.is_failed() and "'when'" in (bad.result[d].message or "")


def test_none_is_a_real_default_as_in_prefect1() -> None:
    from headwater import Flow, task

    optional = Parameter("optional", default=None)
    assert optional.required is False
    assert Parameter("bare").required is True

    @task
    def echo(x: object) -> object:
        return x

    with Flow("none-default") as flow:
        out = echo(Parameter("p", default=None))
    state = flow.run()
    assert state.is_successful()
    assert state.result[out].result is None
