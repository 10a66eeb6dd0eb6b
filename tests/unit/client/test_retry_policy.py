"""The retry policy every server caller shares: what is transient, and the backoff delays."""

from __future__ import annotations

import itertools
import random
import socket

import httpx
import pytest

from headwater.agent import base as agent_base
from headwater.client.retries import backoff, call_with_retries, is_transient
from headwater.engine.backend import _retry
from headwater.exceptions import (
    AuthorizationError,
    ClientError,
    ConflictError,
    ObjectNotFound,
    ServerUnavailable,
)


class _Clock:
    """A clock the test moves by hand (what ``deadline`` is measured on)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ----------------------------------------------------------------------- is_transient


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(),
        TimeoutError("timed out"),
        OSError("network is unreachable"),
        socket.gaierror(-2, "Name or service not known"),
        ServerUnavailable("Cannot reach the Headwater server"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        httpx.PoolTimeout("busy"),
    ],
)
def test_unreachable_server_errors_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ObjectNotFound("gone", status_code=404),
        ConflictError("taken", status_code=409),
        AuthorizationError("no", status_code=401),
        ClientError("bad", status_code=422),
        ValueError("bad input"),
        KeyError("state"),
        RuntimeError("bug"),
        httpx.HTTPStatusError(
            "500",
            request=httpx.Request("GET", "http://h/"),
            response=httpx.Response(500, request=httpx.Request("GET", "http://h/")),
        ),
    ],
)
def test_answers_and_bugs_are_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_the_former_names_are_the_one_policy() -> None:
    assert _retry.is_transient is is_transient
    assert agent_base._is_transient is is_transient


def test_an_error_from_a_real_closed_port_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(httpx.TransportError) as info:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
    assert is_transient(info.value)


# ----------------------------------------------------------------------------- backoff


def test_delays_double_up_to_the_cap() -> None:
    delays = list(itertools.islice(backoff(0.5, 10.0), 8))
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_attempts_bound_the_number_of_delays() -> None:
    assert list(backoff(0.1, 2.0, attempts=6)) == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2.0])
    assert list(backoff(0.1, 2.0, attempts=0)) == []


def test_without_a_bound_the_delays_never_end() -> None:
    delays = backoff(0.05, 0.05)
    assert list(itertools.islice(delays, 1000)) == [0.05] * 1000


def test_another_factor_grows_the_delays_by_it() -> None:
    assert list(backoff(1.0, 100.0, factor=3.0, attempts=4)) == [1.0, 3.0, 9.0, 27.0]


def test_the_first_delay_is_capped_too() -> None:
    assert list(backoff(5.0, 2.0, attempts=3)) == [2.0, 2.0, 2.0]


def test_no_delay_ends_past_the_deadline() -> None:
    clock = _Clock()
    delays = backoff(0.2, 5.0, deadline=clock.now + 3.0, clock=clock)
    seen = []
    for delay in delays:
        seen.append(delay)
        clock.now += delay  # as if the caller slept it
    # 0.2 + 0.4 + 0.8 = 1.4 s; the next delay (1.6 s) would end at 3.0 s: still allowed;
    # the one after (3.2 s) would not.
    assert seen == pytest.approx([0.2, 0.4, 0.8, 1.6])
    assert clock.now == pytest.approx(103.0)


def test_time_spent_between_delays_counts_against_the_deadline() -> None:
    clock = _Clock()
    delays = backoff(1.0, 1.0, deadline=clock.now + 10.0, clock=clock)
    assert next(delays) == 1.0
    clock.now += 9.5  # the attempt itself took a long time
    assert next(delays, None) is None


def test_a_deadline_already_past_gives_no_delay() -> None:
    clock = _Clock()
    assert list(backoff(0.1, 1.0, deadline=clock.now - 1, clock=clock)) == []


def test_attempts_and_deadline_whichever_comes_first() -> None:
    clock = _Clock()
    assert len(list(backoff(0.1, 0.1, attempts=3, deadline=clock.now + 60, clock=clock))) == 3
    slept = []
    for delay in backoff(1.0, 1.0, attempts=99, deadline=clock.now + 2.5, clock=clock):
        slept.append(delay)
        clock.now += delay
    assert slept == [1.0, 1.0]


def test_jitter_shortens_delays_by_at_most_its_fraction() -> None:
    rng = random.Random(7)
    plain = list(backoff(0.5, 10.0, attempts=50))
    jittered = list(backoff(0.5, 10.0, attempts=50, jitter=0.5, rng=rng))
    assert len(jittered) == 50
    for exact, delay in zip(plain, jittered, strict=True):
        assert exact * 0.5 <= delay <= exact <= 10.0
    assert jittered != plain


def test_jitter_is_reproducible_with_a_seeded_source() -> None:
    first = list(backoff(0.1, 5.0, attempts=10, jitter=1.0, rng=random.Random(3)))
    again = list(backoff(0.1, 5.0, attempts=10, jitter=1.0, rng=random.Random(3)))
    assert first == again
    assert all(0.0 <= d <= 5.0 for d in first)


@pytest.mark.parametrize(
    "kwargs",
    [{"jitter": -0.1}, {"jitter": 1.5}, {"first": -1.0}, {"cap": -1.0}],
)
def test_bad_arguments_are_refused(kwargs: dict[str, float]) -> None:
    arguments = {"first": 0.1, "cap": 1.0, **kwargs}
    with pytest.raises(ValueError):
        next(backoff(arguments.pop("first"), arguments.pop("cap"), **arguments))


# -------------------------------------------------------------------- call_with_retries


class _Flaky:
    """Fails with ``errors`` in turn, then returns ``"ok"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_transient_errors_are_retried_after_each_delay() -> None:
    slept: list[float] = []
    logged: list[tuple[str, float]] = []
    call = _Flaky(ConnectionRefusedError(), httpx.ConnectError("refused"))
    result = call_with_retries(
        call,
        backoff(0.2, 5.0),
        on_retry=lambda exc, delay: logged.append((type(exc).__name__, delay)),
        sleep=slept.append,
    )
    assert result == "ok"
    assert call.calls == 3
    assert slept == [0.2, 0.4]
    assert logged == [("ConnectionRefusedError", 0.2), ("ConnectError", 0.4)]


def test_a_non_transient_error_is_raised_at_once() -> None:
    slept: list[float] = []
    call = _Flaky(ConflictError("taken", status_code=409))
    with pytest.raises(ConflictError):
        call_with_retries(call, backoff(0.2, 5.0), sleep=slept.append)
    assert call.calls == 1
    assert slept == []


def test_the_last_error_is_raised_when_the_delays_run_out() -> None:
    slept: list[float] = []
    last = ServerUnavailable("still down")
    call = _Flaky(TimeoutError(), TimeoutError(), last, TimeoutError())
    with pytest.raises(ServerUnavailable) as info:
        call_with_retries(call, backoff(0.1, 1.0, attempts=2), sleep=slept.append)
    assert info.value is last
    assert call.calls == 3
    assert slept == [0.1, 0.2]


def test_retry_on_decides_what_is_retried() -> None:
    call = _Flaky(KeyError("x"), KeyError("y"))
    result = call_with_retries(
        call,
        backoff(0.0, 0.0),
        retry_on=lambda exc: isinstance(exc, KeyError),
        sleep=lambda _: None,
    )
    assert result == "ok"
    assert call.calls == 3


def test_really_sleeps_by_default() -> None:
    call = _Flaky(ConnectionResetError())
    assert call_with_retries(call, backoff(0.01, 0.01, attempts=1)) == "ok"
    assert call.calls == 2


def test_the_flow_run_process_gives_up_within_its_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEADWATER__FLOW_RUN__SERVER_RETRY_SECONDS", "0.5")
    call = _Flaky(*[ConnectionRefusedError() for _ in range(100)])
    with pytest.raises(ConnectionRefusedError):
        _retry.with_retries(call, "test")
    # 0.2 + 0.4 would end past 0.5 s: one retry after 0.2 s, then it gives up.
    assert call.calls == 2
