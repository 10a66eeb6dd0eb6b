"""The agent loop shared by every kind of agent: register, claim, deploy, supervise, cancel.

Contract:

- The agent registers itself with ``POST /agents`` (an identical record is reused), then
  loops on the server's long-poll claim (``Client.claim_flow_runs``). There is no sleep
  between polls: the server holds the request open until work arrives or the timeout ends,
  so a new run is picked up as soon as it is created.
- The claim limit is the number of free slots (``max_concurrent`` minus the runs the agent
  supervises). With no free slot the agent still polls, with ``limit=0`` and a short
  timeout, so that cancellations keep arriving and a freed slot is noticed quickly.
- Every claim carries the agent process's random claim token and the ids of the runs it
  supervises (a run is added before the next claim starts, even while it waits for its
  start time), so a run the server handed out in an answer that never arrived is put back
  in the queue by the next claim. The server answers with the
  ids among them that are being cancelled, and the agent terminates those runs (TERM, then
  KILL after ``cancel_grace`` seconds). The run always ends ``Cancelled``.
- A run is never started before its scheduled start time, even if the server hands it out
  early: the deployment waits for it.
- When a deployed run's process exits, the agent reads the run back. If it is not finished,
  the run is set ``Failed`` with the exit code and the last lines of the process's stderr,
  which are also written to the run's logs (or ``Cancelled`` when a cancel was requested).
- Connection errors never stop the agent: it backs off (0.5 s doubling to 10 s, with the
  retry policy of :mod:`headwater.client.retries`), keeps supervising its processes, and
  resumes claiming when the server is back. Final states and state reads are retried
  the same way for up to 120 s.
- An agent the server no longer knows (its database was reset) registers again.
- With ``max_polls`` the agent makes at most that many claims that may hand out runs
  (answered or failed); it then only polls with ``limit=0`` (for cancellations) until the
  runs it took have ended, and returns.
- Runaway protection (:mod:`headwater.agent._runaway`): a run whose flow version failed
  to load ``load_failure_limit`` times in a row within ``load_failure_window`` seconds is
  set ``Failed`` with a message saying so, and no process is started for it. The agent
  counts the processes it starts; the counts appear in its log and, through
  ``PUT /agents/{id}/stats``, in ``GET /agents``.
- On shutdown (``stop()``, SIGINT, SIGTERM) the agent stops claiming at once (the claim
  runs in a helper thread, so stopping never waits for the server), gives running
  processes ``shutdown_grace`` seconds to finish, then terminates them. A flow-run process
  terminated this way marks its run ``Failed`` with a message saying the agent shut down.

Subclasses implement :meth:`Agent.deploy_flow`, returning a :class:`RunProcess`.
"""

from __future__ import annotations

import datetime
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol, TypeVar

from headwater.agent._runaway import LoadFailures, SpawnStats, StatsReporter
from headwater.agent._supervision import (
    FINISHED_STATE_TYPES,
    describe_exit,
    parse_time,
    utc_now_iso,
)
from headwater.client import Client
from headwater.client.retries import backoff, call_with_retries
from headwater.client.retries import is_transient as _is_transient
from headwater.engine import state as states
from headwater.exceptions import ObjectNotFound

__all__ = ["Agent", "RunProcess"]

T = TypeVar("T")

logger = logging.getLogger("headwater.agent")

_BACKOFF_START = 0.5
_BACKOFF_MAX = 10.0
# How long a final state or a state read is retried while the server is unreachable.
_GIVE_UP_AFTER = 120.0
# The claim timeout used when every slot is taken: short, so a slot freed by a finished
# run is put to use quickly while cancellations still arrive by push.
_FULL_CLAIM_TIMEOUT = 1.0


class RunProcess(Protocol):
    """What an agent needs from a deployed flow run (a subprocess, a container, ...)."""

    @property
    def pid(self) -> int:
        """Process id (or another identifier) shown in logs."""

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the run to end; return its exit code, or None on timeout."""

    def poll(self) -> int | None:
        """Return the exit code if the run has ended, else None."""

    def terminate(self, grace: float) -> None:
        """Ask the run to stop; force it after ``grace`` seconds."""

    def stderr_tail(self) -> list[str]:
        """The last lines the run wrote to its error stream."""


@dataclass
class _Supervised:
    """Book-keeping for one flow run the agent is responsible for."""

    flow_run_id: str
    flow_run: dict[str, Any]
    process: RunProcess | None = None
    cancel_requested: bool = False
    # Set once the server listed the run in a claim's ``cancel`` answer; from then on the
    # run is left out of ``running`` so the server does not answer with it again at once.
    stop_signalled: bool = False
    shutdown_requested: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class Agent:
    """Base agent: claims due flow runs from the server and supervises their execution.

    Args:
        name: Agent name shown by the server (default: ``"<type>-<random>"``).
        labels: Labels the agent offers. Runs are handed to an agent only if their labels
            are a subset of the agent's; an agent without labels gets runs without labels.
        env_vars: Extra environment variables for every flow-run process.
        max_concurrent: Most flow runs supervised at once (None: unlimited).
        api_url: Server API URL (default from configuration / ``HEADWATER_API_URL``).
        api_key: API key (default from configuration / ``HEADWATER_API_KEY``).
        claim_timeout: Seconds the server may hold a claim request open.
        cancel_grace: Seconds between SIGTERM and SIGKILL when cancelling a run.
        shutdown_grace: Seconds running processes get to finish when the agent stops.
        client: A ready client (for tests); otherwise one is built from the arguments.
        max_polls: Stop after this many claims (None: never); runs already taken are
            supervised to their end first.
        load_failure_limit: Refuse runs of a flow version that failed to load this many
            times in a row (0: never refuse).
        load_failure_window: Seconds within which those failures must fall.
    """

    agent_type = "Agent"

    def __init__(
        self,
        name: str | None = None,
        labels: Iterable[str] | None = None,
        env_vars: dict[str, str] | None = None,
        max_concurrent: int | None = None,
        api_url: str | None = None,
        api_key: str | None = None,
        claim_timeout: float = 10.0,
        cancel_grace: float = 10.0,
        shutdown_grace: float = 5.0,
        client: Client | None = None,
        max_polls: int | None = None,
        load_failure_limit: int = 3,
        load_failure_window: float = 60.0,
    ) -> None:
        if max_polls is not None and max_polls < 1:
            raise ValueError(f"max_polls must be at least 1, got {max_polls}")
        if max_concurrent is not None and max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, got {max_concurrent}")
        if claim_timeout <= 0:
            raise ValueError(f"claim_timeout must be positive, got {claim_timeout}")
        if api_url is not None and not api_url.startswith(("http://", "https://")):
            raise ValueError(f"api_url must be an http:// or https:// URL, got {api_url!r}")
        if cancel_grace < 0 or shutdown_grace < 0:
            raise ValueError("cancel_grace and shutdown_grace must not be negative")
        self.name = name or f"{self.agent_type.lower()}-{uuid.uuid4().hex[:8]}"
        self.labels = sorted(set(labels or ()))
        self.env_vars = dict(env_vars or {})
        self.max_concurrent = max_concurrent
        self.api_url = api_url
        self.api_key = api_key
        self.claim_timeout = claim_timeout
        self.cancel_grace = cancel_grace
        self.shutdown_grace = shutdown_grace
        self.max_polls = max_polls
        self.polls = 0
        self.agent_id: str | None = None
        #: This process's claim token: a run the server handed to it but that it does not
        #: list on its next claim (the answer was lost) is put back in the queue at once.
        self.claim_token = uuid.uuid4().hex
        self._client = client
        self._lock = threading.Lock()
        self._runs: dict[str, _Supervised] = {}
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self.load_failures = LoadFailures(load_failure_limit, load_failure_window)
        self.spawn_stats = SpawnStats()
        self._reporter: StatsReporter | None = None

    # ------------------------------------------------------------------ hooks

    def deploy_flow(self, flow_run: dict[str, Any]) -> RunProcess:
        """Start executing a claimed flow run; subclasses implement this.

        Args:
            flow_run: The claimed run as the API returns it.

        Returns:
            A handle on the started execution.
        """
        raise NotImplementedError

    def on_started(self) -> None:
        """Called once the agent is registered, before it claims (no-op by default)."""

    def on_stopped(self) -> None:
        """Called when the agent has shut down its runs (no-op by default)."""

    # ------------------------------------------------------------------ public API

    @property
    def client(self) -> Client:
        """The client this agent talks to the server with (built on first use)."""
        if self._client is None:
            self._client = Client(api_server=self.api_url, api_key=self.api_key)
        return self._client

    @property
    def running_flow_run_ids(self) -> list[str]:
        """Ids of the flow runs this agent currently supervises."""
        with self._lock:
            return list(self._runs)

    def start(self, install_signal_handlers: bool = False) -> None:
        """Run the agent until :meth:`stop` is called (blocking).

        Args:
            install_signal_handlers: Stop cleanly on SIGINT/SIGTERM (main thread only).
        """
        if install_signal_handlers:
            self._install_signal_handlers()
        try:
            self._register()
            if self.agent_id is None:  # stopped before the server answered
                return
            logger.info(
                "Agent %r (%s) started with labels %s, max concurrent %s",
                self.name,
                self.agent_id,
                self.labels,
                self.max_concurrent or "unlimited",
            )
            self._start_reporter()
            self.on_started()
            self._loop()
        finally:
            self._shutdown()
            self.on_stopped()
            self._stop_reporter()
            close = getattr(self._client, "close", None)
            if callable(close):
                close()  # also cuts off a claim still waiting on the server
            self._stopped.set()

    def stats(self) -> dict[str, Any]:
        """The agent's process counts, as reported to the server.

        Returns:
            ``{live_processes, spawned, spawned_last_minute, refused_load_failures,
            supervised, max_concurrent}``.
        """
        with self._lock:
            supervised = len(self._runs)
        return self.spawn_stats.snapshot(
            refused_load_failures=self.load_failures.refused,
            supervised=supervised,
            max_concurrent=self.max_concurrent,
        )

    def _start_reporter(self) -> None:
        client = self.client

        def send(stats: dict[str, Any]) -> None:
            agent_id = self.agent_id  # read each time: a re-registration changes it
            if agent_id is not None:
                client.report_agent_stats(agent_id, stats)

        self._reporter = StatsReporter(send, self.stats)
        self._reporter.start()

    def _stop_reporter(self) -> None:
        reporter, self._reporter = self._reporter, None
        if reporter is not None:
            reporter.stop()
            reporter.join(timeout=5.0)

    def stop(self) -> None:
        """Ask the agent to stop claiming and shut down (safe from any thread)."""
        self._stopping.set()
        self._wake.set()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Wait until :meth:`start` has returned; True if it did within ``timeout``."""
        return self._stopped.wait(timeout)

    # ------------------------------------------------------------------ main loop

    def _install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            logger.info("Received %s: shutting down", signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)

    def _register(self) -> None:
        delays = _reconnect_delays()
        while not self._stopping.is_set():
            try:
                self.agent_id = self.client.register_agent(
                    agent_type=self.agent_type, name=self.name, labels=self.labels
                )
                return
            except Exception as exc:
                if not _is_transient(exc):
                    raise
                delay = next(delays)
                logger.warning("Cannot reach the server (%s); retrying in %.1f s", exc, delay)
                self._stopping.wait(delay)

    def _loop(self) -> None:
        delays = _reconnect_delays()
        while not self._stopping.is_set():
            assert self.agent_id is not None
            with self._lock:
                supervised = len(self._runs)
                running = [i for i, e in self._runs.items() if not e.stop_signalled]
            polls_left = self.max_polls is None or self.polls < self.max_polls
            if not polls_left:
                if not supervised:
                    logger.info("Agent %r made its %d polls: stopping", self.name, self.polls)
                    return
                limit, timeout = 0, _FULL_CLAIM_TIMEOUT
            elif self.max_concurrent is None:
                limit, timeout = 25, self.claim_timeout
            else:
                limit = max(self.max_concurrent - supervised, 0)
                timeout = self.claim_timeout if limit else _FULL_CLAIM_TIMEOUT
            if polls_left and limit:
                # Only claims that may hand out runs count; limit=0 polls only listen
                # for cancellations.
                self.polls += 1
            try:
                answer = self._claim(timeout=timeout, limit=limit, running=running)
                if answer is None:  # stopping
                    return
            except Exception as exc:
                if _is_not_found(exc):
                    # The server no longer knows this agent (its database was reset).
                    logger.warning(
                        "The server does not know agent %s: registering again", self.agent_id
                    )
                    self._register()
                    continue
                delay = next(delays)
                if not _is_transient(exc):
                    logger.exception("Claiming flow runs failed")
                else:
                    logger.warning("Cannot reach the server (%s); retrying in %.1f s", exc, delay)
                self._stopping.wait(delay)
                continue
            delays = _reconnect_delays()
            for flow_run_id in answer.get("cancel", []) or []:
                self._cancel(str(flow_run_id))
            for flow_run in answer.get("flow_runs", []) or []:
                self._accept(flow_run)

    def _claim(self, timeout: float, limit: int, running: list[str]) -> dict[str, Any] | None:
        """One long-poll claim that :meth:`stop` can cut short (then None is returned).

        The request runs in a helper thread so that stopping never waits for the server
        to answer. A claim abandoned this way is cut off when the client closes at
        shutdown; a run the server handed out in that instant is put back in the queue by
        the server's reaper after its Submitted timeout.
        """
        box: dict[str, Any] = {}
        done = threading.Event()
        agent_id = self.agent_id
        assert agent_id is not None

        def work() -> None:
            try:
                box["answer"] = self._claim_call(agent_id, timeout, limit, running)
            except BaseException as exc:
                box["error"] = exc
            finally:
                done.set()
                self._wake.set()

        threading.Thread(target=work, name="headwater-claim", daemon=True).start()
        while not done.is_set():
            if self._stopping.is_set():
                return None
            self._wake.wait()
            self._wake.clear()
        if "error" in box:
            raise box["error"]
        answer: dict[str, Any] = box["answer"]
        return answer

    def _claim_call(
        self, agent_id: str, timeout: float, limit: int, running: list[str]
    ) -> dict[str, Any]:
        answer: dict[str, Any] = self.client.claim_flow_runs(
            agent_id, timeout=timeout, limit=limit, running=running, token=self.claim_token
        )
        return answer

    # ------------------------------------------------------------------ runs

    def _accept(self, flow_run: dict[str, Any]) -> None:
        flow_run_id = str(flow_run["id"])
        with self._lock:
            if flow_run_id in self._runs:
                return
            entry = _Supervised(flow_run_id=flow_run_id, flow_run=flow_run)
            self._runs[flow_run_id] = entry
        thread = threading.Thread(
            target=self._supervise, args=(entry,), name=f"run-{flow_run_id[:8]}", daemon=True
        )
        thread.start()

    def _supervise(self, entry: _Supervised) -> None:
        try:
            self._wait_until_due(entry)
            if entry.cancel_requested or self._stopping.is_set():
                self._finish_unstarted(entry)
                return
            refusal = self.load_failures.refusal(
                str(entry.flow_run.get("flow_id")), entry.flow_run.get("flow_name")
            )
            if refusal is not None:
                logger.warning("Flow run %s: %s", entry.flow_run_id, refusal)
                self._write_log(entry.flow_run_id, "ERROR", refusal)
                self._report(entry.flow_run_id, "Failed", refusal)
                return
            try:
                entry.process = self.deploy_flow(entry.flow_run)
            except Exception as exc:
                logger.exception("Deploying flow run %s failed", entry.flow_run_id)
                self._report(
                    entry.flow_run_id,
                    "Failed",
                    f"Failed to start the flow run process: {type(exc).__name__}: {exc}",
                )
                return
            self.spawn_stats.started()
            try:
                self._write_log(
                    entry.flow_run_id,
                    "INFO",
                    f"Submitted for execution: PID: {entry.process.pid}",
                )
                counts = self.spawn_stats.snapshot()
                logger.info(
                    "Flow run %s started as PID %s (%d flow-run processes alive, "
                    "%d started in the last minute)",
                    entry.flow_run_id,
                    entry.process.pid,
                    counts["live_processes"],
                    counts["spawned_last_minute"],
                )
                if entry.cancel_requested:
                    entry.process.terminate(self.cancel_grace)
                code = entry.process.wait()
            finally:
                self.spawn_stats.ended()
            self._after_exit(entry, code if code is not None else -1)
        except Exception:
            logger.exception("Supervising flow run %s failed", entry.flow_run_id)
        finally:
            with self._lock:
                self._runs.pop(entry.flow_run_id, None)
            entry.done.set()

    def _wait_until_due(self, entry: _Supervised) -> None:
        due = _due_time(entry.flow_run)
        while due is not None and not entry.cancel_requested:
            remaining = (due - datetime.datetime.now(datetime.UTC)).total_seconds()
            if remaining <= 0 or self._stopping.wait(min(remaining, 1.0)):
                return

    def _cancel(self, flow_run_id: str) -> None:
        """Handle a run the server says should no longer execute here."""
        with self._lock:
            entry = self._runs.get(flow_run_id)
            if entry is None or entry.stop_signalled:
                return
            entry.stop_signalled = True
        threading.Thread(
            target=self._stop_run, args=(entry,), name=f"stop-{flow_run_id[:8]}", daemon=True
        ).start()

    def _stop_run(self, entry: _Supervised) -> None:
        # The server lists runs that are Cancelling, and also runs that already finished
        # while their process is still exiting (shipping its last logs): only the first
        # kind is terminated at once; the second gets the grace period to exit by itself.
        state_type, _ = self._read_state(entry.flow_run_id)
        if state_type not in ("Cancelling", "Cancelled", None):
            process = entry.process
            if process is None or process.wait(self.cancel_grace) is not None:
                return
            logger.warning("Flow run %s finished but its process did not exit", entry.flow_run_id)
        else:
            entry.cancel_requested = True
            logger.info("Cancelling flow run %s", entry.flow_run_id)
        process = entry.process
        if process is not None:
            if entry.cancel_requested:
                self._write_log(
                    entry.flow_run_id, "INFO", "Agent is terminating the flow run process"
                )
            process.terminate(self.cancel_grace)

    def _finish_unstarted(self, entry: _Supervised) -> None:
        if entry.cancel_requested:
            self._report(entry.flow_run_id, "Cancelled", "Flow run is cancelled")
        else:
            self._report(
                entry.flow_run_id,
                "Failed",
                "The agent shut down before the flow run was started",
            )

    def _after_exit(self, entry: _Supervised, code: int) -> None:
        """Make sure a run whose process ended is in a finished state."""
        state_type, run = self._read_state(entry.flow_run_id)
        if run is not None:
            self.load_failures.record(str(entry.flow_run.get("flow_id")), run)
        if state_type in FINISHED_STATE_TYPES:
            logger.info(
                "Flow run %s process exited with code %s (%s; %d flow-run processes alive)",
                entry.flow_run_id,
                code,
                state_type,
                self.spawn_stats.live,
            )
            return
        if entry.cancel_requested or state_type == "Cancelling":
            self._report(entry.flow_run_id, "Cancelled", "Flow run is cancelled")
            return
        tail = entry.process.stderr_tail() if entry.process is not None else []
        message = describe_exit(code, tail, shutdown=entry.shutdown_requested)
        self._write_log(entry.flow_run_id, "ERROR", message)
        self._report(entry.flow_run_id, "Failed", message)

    def _read_state(self, flow_run_id: str) -> tuple[str | None, dict[str, Any] | None]:
        try:
            run = self._retrying(lambda: self.client.get_flow_run(flow_run_id))
        except Exception as exc:
            if not _is_transient(exc):
                logger.warning("Cannot read flow run %s: %s", flow_run_id, exc)
            return None, None
        return run.get("state_type"), run

    def _report(self, flow_run_id: str, state_type: str, message: str) -> None:
        """Set a final state on a run, retrying while the server is unreachable."""
        state = getattr(states, state_type)(message=message)
        try:
            self._retrying(
                lambda: self.client.set_flow_run_state(flow_run_id, state, agent_id=self.agent_id)
            )
        except Exception as exc:
            if not _is_transient(exc):
                logger.warning("Cannot set flow run %s to %s: %s", flow_run_id, state_type, exc)

    def _write_log(self, flow_run_id: str, level: str, message: str) -> None:
        record = {
            "flow_run_id": flow_run_id,
            "timestamp": utc_now_iso(),
            "level": level,
            "name": "headwater.agent",
            "message": message,
        }
        try:
            self.client.write_run_logs([record])
        except Exception as exc:
            # A log line is not worth blocking supervision for.
            logger.warning("Cannot write a log for flow run %s: %s", flow_run_id, exc)

    def _retrying(self, call: Callable[[], T], give_up_after: float = _GIVE_UP_AFTER) -> T:
        """Run ``call``, retrying transient errors with backoff for up to ``give_up_after`` s.

        Shutdown does not stop the retries early, so a final state reaches the server
        if it comes back within the window. The last error is raised.
        """

        def log(exc: BaseException, delay: float) -> None:
            logger.warning("Server unreachable (%s); retrying in %.1f s", exc, delay)

        delays = _reconnect_delays(deadline=time.monotonic() + give_up_after)
        return call_with_retries(call, delays, on_retry=log)

    # ------------------------------------------------------------------ shutdown

    def _shutdown(self) -> None:
        with self._lock:
            entries = list(self._runs.values())
        if not entries:
            return
        logger.info(
            "Waiting up to %.1f s for %d flow run(s) to finish", self.shutdown_grace, len(entries)
        )
        deadline = time.monotonic() + self.shutdown_grace
        for entry in entries:
            entry.done.wait(max(deadline - time.monotonic(), 0))
        for entry in entries:
            if entry.done.is_set():
                continue
            entry.shutdown_requested = True
            if entry.process is not None:
                self._write_log(
                    entry.flow_run_id,
                    "WARNING",
                    "The agent is shutting down: terminating the flow run process",
                )
                entry.process.terminate(self.cancel_grace)
        for entry in entries:
            entry.done.wait(self.cancel_grace + 30.0)


def _due_time(flow_run: dict[str, Any]) -> datetime.datetime | None:
    state = flow_run.get("state") or {}
    candidates = [flow_run.get("scheduled_start_time")]
    if isinstance(state, dict):
        inner = state.get("state")
        candidates.append(state.get("start_time"))
        if isinstance(inner, dict):
            candidates.append(inner.get("start_time"))
    times = [t for t in (parse_time(c) for c in candidates) if t is not None]
    return max(times) if times else None


def _is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, ObjectNotFound)


def _reconnect_delays(deadline: float | None = None) -> Iterator[float]:
    """The agent's waits between attempts to reach the server (0.5 s doubling to 10 s)."""
    return backoff(_BACKOFF_START, _BACKOFF_MAX, deadline=deadline)
