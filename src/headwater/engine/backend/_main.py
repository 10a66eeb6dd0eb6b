"""The flow-run process: ``python -m headwater.engine.backend FLOW_RUN_ID``.

Contract:

- Imports the engine and the client only (no server code; dask only if the flow's
  executor needs it), so the process starts fast.
- Reads the flow run and its flow, loads the flow from its storage reference (a failure
  sets the run ``Failed`` with "Could not load flow from storage: <why>"), merges the run's
  context, and runs the flow with :class:`BackendFlowRunner`. Results of successful tasks
  are checkpointed by default into the server's result store (``ServerResult``) unless the
  task or flow has its own Result.
- Ships every ``headwater`` log record to the run's logs (batches, at least every 0.5 s,
  flushed at exit), including those of task runs in process pools and Dask workers
  (through the executors' ``executor_worker_setup`` hook, see ``_worker_setup``) and heartbeats the run from a thread; each heartbeat also checks for
  a cancel, so a run is stopped even when its agent is gone.
- Task-run states go to the server in batches through a task-state writer (``_states``,
  flushed at least every 0.2 s, ``HEADWATER__FLOW_RUN__STATE_FLUSH_INTERVAL``), flushed
  before every flow-run state and at exit; a task state the server refuses makes the
  process check at once whether its run was cancelled (as a heartbeat would).
- On SIGTERM (the agent cancelling the run, or shutting down) it first sends the queued
  task states, then sets the run
  ``Cancelled`` when a cancel was requested, else ``Failed`` saying the process was
  terminated; task runs still in flight are ended the same way; then it exits.
- Exit code: 0 when the run reached a finished state (whatever it is), 1 otherwise.
- ``--spare`` starts a warm spare for the local agent: it imports everything and opens
  its client, then waits for one JSON line on stdin naming the run (see
  :func:`serve_as_spare`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, Any

from headwater.client import Client
from headwater.engine import state as states
from headwater.engine.backend._heartbeat import HeartbeatThread
from headwater.engine.backend._logs import ServerLogHandler
from headwater.engine.backend._retry import with_retries
from headwater.engine.backend._server_result import ServerResult
from headwater.engine.backend._states import TaskStateWriter, install_writer
from headwater.engine.backend._worker_setup import worker_setup_for
from headwater.engine.state import FINISHED_STATE_TYPES
from headwater.storage import storage_from_ref
from headwater.utilities.configuration import config, reload_configuration
from headwater.utilities.context import context as _context
from headwater.utilities.logging import add_log_handler, configure_logging, remove_log_handler

if TYPE_CHECKING:
    from headwater.engine.backend._runners import BackendFlowRunner

__all__ = ["main", "run_flow_run", "serve_as_spare"]

logger = logging.getLogger("headwater.engine.backend")


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None


def _current_task_run_id() -> str | None:
    value = _context.get("task_run_id")
    return str(value) if value else None


class _FlowRunProcess:
    """Everything one flow-run process does, with the pieces needed at termination."""

    def __init__(self, flow_run_id: str, client: Client) -> None:
        self.flow_run_id = flow_run_id
        self.client = client
        self.runner: BackendFlowRunner | None = None
        self.log_handler: ServerLogHandler | None = None
        self.heartbeat: HeartbeatThread | None = None
        self._terminating = threading.Lock()
        self.final_written = False
        self.writer: TaskStateWriter | None = None
        self._last_refusal_check = 0.0

    # -------------------------------------------------------------- setup / teardown

    def start_services(self) -> None:
        # The headwater logger gets its level and stderr handler from configuration; the
        # agent keeps the last stderr lines for the failure message of a crashed process.
        configure_logging()
        if config.get("logging", {}).get("log_to_backend", True):
            self.log_handler = ServerLogHandler(
                self.client.write_run_logs,
                self.flow_run_id,
                _current_task_run_id,
                flush_interval=_env_float("HEADWATER__FLOW_RUN__LOG_FLUSH_INTERVAL", 0.5),
            )
            add_log_handler(self.log_handler)
        self.writer = TaskStateWriter(
            self.client,
            flush_interval=_env_float("HEADWATER__FLOW_RUN__STATE_FLUSH_INTERVAL", 0.2),
            on_rejected=self._on_task_state_refused,
        ).start()
        install_writer(self.writer)
        interval = _env_float("HEADWATER__FLOW_RUN__HEARTBEAT_INTERVAL", 10.0)
        self.heartbeat = HeartbeatThread(self._beat, interval)
        self.heartbeat.start()

    def _on_task_state_refused(self, task_run_id: str, outcome: dict[str, Any]) -> None:
        """A refused task state usually means the run was cancelled: check now (once a second)."""
        # deferred: the runners load the engine's runners and executors (multiprocessing,
        # cloudpickle); importing engine.backend (ServerResult) stays free of them.
        from headwater.engine.backend._runners import registry

        state = outcome.get("state") or {}
        if isinstance(state, dict) and state.get("type"):
            registry.update(task_run_id, str(state["type"]))
        now = time.monotonic()
        if now - self._last_refusal_check < 1.0:
            return
        self._last_refusal_check = now
        self._beat()

    def _beat(self) -> None:
        """Heartbeat, and stop the run if the server says it should no longer run.

        The agent normally terminates a cancelled run at once; this check covers a run
        whose agent is gone (a flow-run process outlives an agent killed with SIGKILL),
        and a run the server already ended (the reaper failed it while this process
        could not reach the server), whose further work the server would refuse.
        """
        self.client.update_flow_run_heartbeat(self.flow_run_id)
        state_type = self.client.get_flow_run(self.flow_run_id).get("state_type")
        if state_type == "Cancelling":
            logger.info("Flow run %s is being cancelled", self.flow_run_id)
        elif state_type in FINISHED_STATE_TYPES and not self._reported_final():
            logger.warning(
                "Flow run %s was ended by the server (%s): stopping", self.flow_run_id, state_type
            )
        else:
            return
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGTERM)  # the flow's own subprocesses too
        else:
            os.kill(os.getpid(), signal.SIGTERM)

    def _reported_final(self) -> bool:
        return self.final_written or (self.runner is not None and self.runner.finishing)

    def stop_services(self) -> None:
        if self.writer is not None:
            self.writer.close()
            install_writer(None)
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.log_handler is not None:
            remove_log_handler(self.log_handler)
            self.log_handler.close()

    # -------------------------------------------------------------- the run

    def run(self) -> int:
        flow_run = with_retries(lambda: self.client.get_flow_run(self.flow_run_id), "read the run")
        if flow_run.get("state_type") in FINISHED_STATE_TYPES:
            logger.info("Flow run %s is already %s", self.flow_run_id, flow_run["state_type"])
            return 0
        flow_id = str(flow_run["flow_id"])
        flow_record = with_retries(lambda: self.client.get_flow(flow_id), "read the flow")
        try:
            flow = _load_flow(flow_record)
        except Exception as exc:
            message = f"Could not load flow from storage: {type(exc).__name__}: {exc}"
            logger.error(message)
            failed = states.Failed(message=message)
            self.final_written = True
            with_retries(
                lambda: self.client.set_flow_run_state(self.flow_run_id, failed), "fail the run"
            )
            return 0
        return self._run_flow(flow, flow_run, flow_record)

    def _run_flow(self, flow: Any, flow_run: dict[str, Any], flow_record: dict[str, Any]) -> int:
        # deferred: the runners load the engine's runners and executors (see above).
        from headwater.engine.backend._runners import BackendFlowRunner, RunRefused, use_client

        if getattr(flow, "result", None) is None:
            # Checkpoint into the server's result store unless the flow names its own.
            flow.result = ServerResult()
        context: dict[str, Any] = dict(flow_run.get("context") or {})
        context.update(
            running_with_backend=True,
            checkpointing=True,
            flow_run_id=self.flow_run_id,
            flow_run_name=flow_run.get("name"),
            flow_run_version=flow_run.get("version"),
            flow_id=flow_run.get("flow_id"),
            flow_name=flow_record.get("name"),
            project_name=flow_record.get("project_name") or flow_run.get("project_name"),
            scheduled_start_time=flow_run.get("scheduled_start_time"),
            # Process pools and Dask workers run this once, so their task runs report to
            # this server and ship their logs, with no configuration of their own.
            executor_worker_setup=worker_setup_for(
                self.client.api_url,
                self.client.api_key,
                self.log_handler is not None,
                _env_float("HEADWATER__FLOW_RUN__LOG_FLUSH_INTERVAL", 0.5),
            ),
        )
        use_client(self.client)
        self.runner = BackendFlowRunner(flow, client=self.client, flow_run_id=self.flow_run_id)
        if self.log_handler is not None:
            # A finished run's logs are on the server: whoever sees the final state (a
            # parent streaming them, say) finds every line before it.
            self.runner.before_final_state = self.log_handler.deliver
        initial = states.State.deserialize(flow_run["state"]) if flow_run.get("state") else None
        if initial is not None and not (initial.is_pending() or initial.is_running()):
            initial = None
        try:
            final = self.runner.run(
                state=initial,
                parameters=dict(flow_run.get("parameters") or {}),
                context=context,
            )
        except RunRefused as exc:
            logger.info("%s: stopping", exc)
            return 0
        logger.debug("Flow run %s ended %r", self.flow_run_id, final)
        if not final.is_finished():
            # The runner only stops early when it was refused or interrupted.
            return 1
        return 0

    # -------------------------------------------------------------- termination

    def terminate(self, signum: int) -> None:
        """End the run after a termination signal: Cancelled if requested, else Failed."""
        if not self._terminating.acquire(blocking=False):
            return
        # A fresh client: the main thread may be in the middle of a request on the other.
        client = Client()
        name = signal.Signals(signum).name
        try:
            current = client.get_flow_run(self.flow_run_id).get("state_type")
        except Exception:
            current = None
        if current in ("Cancelling", "Cancelled"):
            final: Any = states.Cancelled(message="Flow run is cancelled")
            task_final: Any = states.Cancelled(message="Flow run is cancelled")
        else:
            text = f"Flow run process was terminated by {name}"
            final = states.Failed(message=text)
            task_final = states.Failed(message=text)
        logger.warning("Received %s: the flow run ends %s", name, type(final).__name__)
        if self.writer is not None:
            # What the tasks did before the signal reaches the server first.
            try:
                self.writer.drain(client)
            except Exception as exc:
                logger.debug("Could not send the queued task states: %s", exc)
        if self.runner is not None:
            unfinished = self.runner.registry.unfinished(FINISHED_STATE_TYPES)
            try:
                client.set_task_run_states(
                    [{"task_run_id": i, "state": task_final} for i in unfinished]
                )
            except Exception as exc:
                logger.debug("Could not end task runs %s: %s", unfinished, exc)
        if current not in FINISHED_STATE_TYPES:
            try:
                client.set_flow_run_state(self.flow_run_id, final)
            except Exception as exc:
                logger.error("Could not set the final state: %s", exc)
        self.stop_services()
        logging.shutdown()
        os._exit(0)


def _load_flow(flow_record: dict[str, Any]) -> Any:
    ref = flow_record.get("storage")
    if not ref:
        raise ValueError(f"flow {flow_record.get('name')!r} has no storage recorded")
    storage = storage_from_ref(ref)
    return storage.get_flow(flow_record["name"])


def run_flow_run(flow_run_id: str, client: Client | None = None) -> int:
    """Execute one flow run in this process, reporting to the server.

    Args:
        flow_run_id: The run to execute.
        client: Client to use (default: from configuration).

    Returns:
        The process exit code (0 when the run reached a finished state).
    """
    if client is None:
        client = Client()
    process = _FlowRunProcess(flow_run_id, client)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        process.terminate(signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    process.start_services()
    try:
        return process.run()
    except Exception:
        logger.exception("Flow run process failed")
        return 1
    finally:
        process.stop_services()


def serve_as_spare() -> int:
    """Wait, fully imported, for a flow run to be handed over on stdin; then run it.

    The agent starts one such process ahead of time so that a run does not wait for the
    interpreter and the engine to load. The hand-over is one JSON line:
    ``{"flow_run_id": ..., "env": {variables to set}}``. End of input (the agent went
    away or retired the spare) exits quietly.
    """
    # Everything a run needs, loaded before the run exists (the client and storage come
    # with this module, the results with the runners).
    # deferred: the runners load the engine's runners and executors (see above).
    import headwater.engine.backend._runners  # noqa: F401

    # A client made now has its connection set-up costs (TLS context, pool) paid already.
    client = Client()
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    payload = json.loads(line)
    changed = {str(k): str(v) for k, v in (payload.get("env") or {}).items()}
    if any(
        k.startswith("HEADWATER") and not k.startswith("HEADWATER__FLOW_RUN__") for k in changed
    ):
        os.environ.update(changed)
        reload_configuration()
        client = Client()
    else:
        os.environ.update(changed)
    return run_flow_run(str(payload["flow_run_id"]), client=client)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m headwater.engine.backend FLOW_RUN_ID``."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--spare"]:
        return serve_as_spare()
    flow_run_id = args[0] if args else os.environ.get("HEADWATER__FLOW_RUN__FLOW_RUN_ID")
    if not flow_run_id or len(args) > 1:
        print(
            "usage: python -m headwater.engine.backend FLOW_RUN_ID "
            "(or HEADWATER__FLOW_RUN__FLOW_RUN_ID)",
            file=sys.stderr,
        )
        return 2
    return run_flow_run(flow_run_id)
