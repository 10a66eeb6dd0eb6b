"""StringFormatter and JinjaTemplate: keywords over the run context, and clear errors."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

import pytest

import headwater
from headwater import Flow, Parameter
from headwater.tasks.templates import JinjaTemplate, StringFormatter
from headwater.tasks.templates import jinja2 as jinja_module


def test_formats_with_keywords_and_run_time_template() -> None:
    task = StringFormatter(template="{a}-{b}")
    assert task.run(a=1, b="x") == "1-x"
    assert task.run(template="{a}!", a=2) == "2!"
    assert StringFormatter().run() == ""


def test_keywords_win_over_the_context_and_context_fills_the_rest() -> None:
    task = StringFormatter(template="{who} on {day}")
    with headwater.context(who="context", day="monday"):
        assert task.run() == "context on monday"
        assert task.run(who="kwarg") == "kwarg on monday"
    # The formatter's own values never leak into the caller's context.
    assert "who" not in headwater.context


def test_bad_template_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="StringFormatter: a `template` string"):
        StringFormatter(template="x").run(template=None)
    with pytest.raises(TypeError, match="`template` must be a string, got int"):
        StringFormatter().run(template=5)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="template field 'nope' is neither a keyword"):
        StringFormatter(template="{nope}").run()


def test_in_a_flow_it_sees_parameters_and_the_runs_context() -> None:
    greeting = StringFormatter(template="Hello {name}, {flow_name} ran on {today}")
    with Flow("templates") as flow:
        name = Parameter("name", default="team")
        message = greeting(name=name)
        mapped = StringFormatter(template="#{n}").map(n=[1, 2])
    state = flow.run()
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")  # noqa: UP017
    assert state.result[message].result == f"Hello team, templates ran on {today}"
    assert state.result[mapped].result == ["#1", "#2"]


def test_jinja_template_renders_with_keywords_over_the_context() -> None:
    assert jinja_module.JinjaTemplate is JinjaTemplate
    task = JinjaTemplate(template="{{ who }}: {% for i in items %}{{ i }}{% endfor %}")
    with headwater.context(who="ctx"):
        assert task.run(items=[1, 2]) == "ctx: 12"
        assert task.run(who="kw", items=[]) == "kw: "
    with pytest.raises(ValueError, match="JinjaTemplate: a `template` string"):
        task.run(template=None)


def test_jinja_template_without_jinja2_names_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    task = JinjaTemplate(template="{{ x }}")
    # None in sys.modules makes both find_spec and import report the package as absent.
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(ImportError, match="needs the 'jinja2' package") as created:
        JinjaTemplate(template="{{ x }}")
    assert created.value.name == "jinja2"
    with pytest.raises(ImportError, match="needs the 'jinja2' package"):
        task.run(x=1)


def test_importing_the_template_tasks_does_not_import_jinja2() -> None:
    code = (
        "import sys, headwater.tasks.templates, headwater.tasks.database;"
        "sys.exit('jinja2' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
