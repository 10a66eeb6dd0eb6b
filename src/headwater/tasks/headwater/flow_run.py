"""Tasks that create flow runs, wait for them and read their results: flows of flows.

Contract (Prefect 1's ``prefect.tasks.prefect.flow_run`` with Headwater's deviations):
    * ``create_flow_run`` returns the new child's id; ``wait_for_flow_run`` a
      :class:`~headwater.backend.FlowRunView`; ``get_task_run_result`` the value of one of
      the child's task runs; ``StartFlowRun`` the child's id (with ``wait=True`` its state
      mirrors the child's final state and, on success, its result is still the child id).
    * Every create sends an idempotency key (default: context ``task_run_id`` plus
      ``-{map_index}`` when mapped) and the parent's flow run and task run ids.
    * Waiting is push based (long-poll / event stream): it ends milliseconds after the
      child finishes; ``poll_interval`` and ``poll_time`` only pace retries while the
      server is unreachable.
    * Validation errors raise before any network call, with the messages Prefect 1's
      tests pin.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from headwater.backend import FlowRunView, FlowView, TaskRunView, watch_flow_run
from headwater.backend._common import default_client
from headwater.core.task import Task
from headwater.tasks.headwater._bulk import prepare_mapped_creates, take_prepared
from headwater.tasks.headwater._common import (
    context_value,
    default_idempotency_key,
    lineage,
    link_to_child_run,
    raise_mirrored,
    resolve_start_time,
    task_logger,
)
from headwater.tasks.headwater._handles import ChildRun
from headwater.utilities.tasks import defaults_from_attrs, task

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["StartFlowRun", "create_flow_run", "get_task_run_result", "wait_for_flow_run"]

_MIN_POLL_INTERVAL = timedelta(seconds=3)


@task
def create_flow_run(
    flow_id: str | None = None,
    flow_name: str | None = None,
    project_name: str = "",
    parameters: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    labels: Iterable[str] | None = None,
    run_name: str | None = None,
    run_config: Any = None,
    scheduled_start_time: datetime | timedelta | None = None,
    idempotency_key: str | None = None,
    create_link_artifact: bool = False,
) -> str:
    """Create a flow run of a registered flow; return its id.

    Args:
        flow_id: the flow (version) id or flow-group id of the flow to run.
        flow_name: the name of the flow to run (its newest unarchived version).
        project_name: the project to look ``flow_name`` up in; needed when several
            projects hold a flow of that name.
        parameters: parameters for the new run.
        context: context values for the new run.
        labels: labels for the new run (default: the flow's labels).
        run_name: the new run's name (default: ``"{current run name}-{flow name}"``).
        run_config: a run config that replaces the flow's.
        scheduled_start_time: when to start the run: a datetime, or a delay from now
            (timedelta); default now.
        idempotency_key: a key that makes repeated creates return one run (default: the
            current task run id, plus the map index when mapped).
        create_link_artifact: in a backend run, attach a link artifact pointing at the
            new run to this task run (an addition: Prefect 1's task had no such switch).

    Returns:
        The id of the created (or, for a repeated key, existing) flow run.

    Raises:
        ValueError: both or neither of ``flow_id`` and ``flow_name`` given, or the flow
            cannot be found.
    """
    if flow_id and flow_name:
        raise ValueError(
            "Received both `flow_id` and `flow_name`; pass only one identifier for the flow to run."
        )
    if not flow_id and not flow_name:
        raise ValueError(
            "Both `flow_id` and `flow_name` are null; pass one of them to choose the flow to run."
        )
    start_time = resolve_start_time(scheduled_start_time)
    logger = task_logger()
    if idempotency_key is None:
        idempotency_key = default_idempotency_key()
    # A mapped parent in a backend run may have created this child in bulk already.
    prepared = take_prepared(context_value("task_run_id"), idempotency_key)
    if prepared is not None:
        flow, flow_run_id = prepared
    else:
        logger.debug("Looking up flow metadata...")
        if flow_id:
            flow = FlowView.from_id(flow_id)
        else:
            flow = FlowView.from_flow_name(str(flow_name), project_name=project_name)

    if not run_name:
        parent_name = context_value("flow_run_name")
        if parent_name:
            run_name = f"{parent_name}-{flow.name}"
    if prepared is not None:
        logger.info("Created flow run %r: %s", run_name or "<generated-name>", flow_run_id)
        return str(flow_run_id)
    parent_flow_run_id, parent_task_run_id = lineage()

    logger.info("Creating flow run %r for flow %r...", run_name or "<generated-name>", flow.name)
    child = ChildRun.create(
        flow.flow_id,
        parameters=parameters,
        context=context,
        labels=list(labels) if labels is not None else None,
        run_name=run_name,
        run_config=run_config,
        scheduled_start_time=start_time,
        idempotency_key=idempotency_key,
        parent_flow_run_id=parent_flow_run_id,
        parent_task_run_id=parent_task_run_id,
    )
    logger.info("Created flow run %r: %s", run_name or "<generated-name>", child.flow_run_id)
    if create_link_artifact:
        link_to_child_run(child.flow_run_id)
    return child.flow_run_id


def _prepare_creates(children: list[tuple[dict[str, Any], str, int]]) -> int:
    """Create a mapped ``create_flow_run``'s child runs in one request (see ``_bulk``)."""
    return prepare_mapped_creates(create_flow_run.run, children)


# The backend flow runner calls this when it expands ``create_flow_run.map(...)``.
create_flow_run.prepare_mapped_runs = _prepare_creates  # type: ignore[attr-defined]


@task
def wait_for_flow_run(
    flow_run_id: str,
    stream_states: bool = True,
    stream_logs: bool = False,
    raise_final_state: bool = False,
    max_duration: timedelta = timedelta(hours=12),
) -> FlowRunView:
    """Wait for a flow run to finish, re-logging its state changes and logs.

    Each streamed record is logged through this task's logger at its own level, prefixed
    ``Flow '<run name>': ``.

    Args:
        flow_run_id: the run to wait for.
        stream_states: log the run's state changes.
        stream_logs: log the run's log records.
        raise_final_state: end this task in the run's final state (Cancelled and TimedOut
            fail the task with a message naming the run).
        max_duration: the longest time to wait.

    Returns:
        A view of the finished run.

    Raises:
        RuntimeError: the run did not finish within ``max_duration``.
    """
    view = FlowRunView.from_flow_run_id(flow_run_id)
    logger = task_logger()
    if stream_states or stream_logs:
        for record in watch_flow_run(
            flow_run_id,
            stream_states=stream_states,
            stream_logs=stream_logs,
            max_duration=max_duration,
        ):
            logger.log(record.level, "Flow '%s': %s", view.name, record.message)
        latest = view.get_latest()
    else:
        try:
            latest = ChildRun(flow_run_id).wait(timeout=max_duration.total_seconds())
        except TimeoutError as exc:
            hours = round(max_duration.total_seconds() / 3600, 1)
            raise RuntimeError(
                f"Flow run {flow_run_id} timed out after {hours} hours of waiting."
            ) from exc
    if raise_final_state:
        raise_mirrored(latest.state, flow_run_id, latest.name, result=latest)
    return latest


@task
def get_task_run_result(
    flow_run_id: str,
    task_slug: str,
    map_index: int = -1,
    poll_time: int = 5,
    timeout: float | timedelta | None = None,
) -> Any:
    """Wait for a flow run to finish and return the value of one of its task runs.

    Results the child checkpointed to the server's result store are downloaded through the
    API, so the caller needs no access to the child's filesystem.

    Args:
        flow_run_id: the flow run the task run belongs to.
        task_slug: the slug of the task (e.g. ``"add-1"``).
        map_index: for a mapped task, the child to read; ``-1`` reads the whole mapped
            task, giving the list of every child's value in index order.
        poll_time: seconds between attempts while the server is unreachable.
        timeout: give up when the run has not finished after this long (seconds or a
            timedelta; default: wait indefinitely).

    Returns:
        The task run's value.

    Raises:
        ValueError: empty ``task_slug``, waiting on the current run, no such task run, or
            no readable result.
        TimeoutError: the run did not finish within ``timeout``.
    """
    if not task_slug:
        raise ValueError(
            "`task_slug` is empty; pass the slug of a task in the child flow "
            "(e.g. 'my-task-1'), not `task.slug` of an unregistered task."
        )
    if flow_run_id == context_value("flow_run_id"):
        raise ValueError(
            "`flow_run_id` is the same as the currently running flow; waiting for its own "
            "result would never finish."
        )
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
    child = ChildRun(flow_run_id)
    child.wait(timeout=seconds, poll_interval=float(poll_time))

    task_run = TaskRunView.from_task_slug(task_slug, flow_run_id, map_index=map_index)
    ref = task_run._state_data.get("result") or {}
    task_logger().debug(
        "Loading task run result from %s...", ref.get("type", "an unknown result type")
    )
    return task_run.get_result()


class StartFlowRun(Task):
    """Start a run of a registered flow, optionally waiting for it to finish.

    Args:
        flow_name: the flow to run; may also be given at run time.
        project_name: the flow's project; may also be given at run time. Without it the
            flow name must be unique across projects.
        parameters: parameters for the run; may also be given at run time. Tasks cannot
            be passed here (pass them when calling the task instead).
        run_config: a run config replacing the flow's; may also be given at run time.
        wait: wait for the run to finish and mirror its final state; on success the
            task's result is the run id.
        new_flow_context: context values for the run; may also be given at run time.
        run_name: the run's name; may also be given at run time.
        scheduled_start_time: when to start the run; may also be given at run time.
        poll_interval: the longest pause between attempts while the server is
            unreachable when waiting; at least 3 seconds.
        create_link_artifact: in a backend run, attach a link artifact pointing at the
            child run to this task run (as Prefect 1 did); the parent link is also
            recorded on the child run itself.
        wait_timeout: with ``wait=True``, fail when the run has not finished after this
            long (seconds or a timedelta).
        **kwargs: keyword arguments for :class:`~headwater.core.task.Task`.

    Raises:
        TypeError: a Task in ``parameters``, or a ``poll_interval`` that is not a duration.
        ValueError: ``poll_interval`` shorter than 3 seconds.
    """

    def __init__(
        self,
        flow_name: str | None = None,
        project_name: str | None = None,
        parameters: dict[str, Any] | None = None,
        run_config: Any = None,
        wait: bool = False,
        new_flow_context: dict[str, Any] | None = None,
        run_name: str | None = None,
        scheduled_start_time: datetime | None = None,
        poll_interval: timedelta = timedelta(seconds=10),
        create_link_artifact: bool = True,
        wait_timeout: float | timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        for key, value in (parameters or {}).items():
            if isinstance(value, Task):
                raise TypeError(
                    f"An instance of `Task` was passed to the `StartFlowRun` constructor via "
                    f"the `parameters` kwarg (parameter {key!r}). Pass static values to the "
                    "constructor and task results when calling the task: "
                    "`StartFlowRun(...)(parameters={...})`."
                )
        if isinstance(poll_interval, int | float) and not isinstance(poll_interval, bool):
            poll_interval = timedelta(seconds=poll_interval)
        if not isinstance(poll_interval, timedelta):
            raise TypeError(
                "`poll_interval` must be a timedelta, got "
                f"{type(poll_interval).__name__}: {poll_interval!r}"
            )
        if poll_interval < _MIN_POLL_INTERVAL:
            raise ValueError(
                f"`poll_interval` must be at least 3 seconds, got {poll_interval.total_seconds():g} s."
            )
        if isinstance(wait_timeout, timedelta):
            wait_timeout = wait_timeout.total_seconds()
        if wait_timeout is not None and wait_timeout <= 0:
            raise ValueError(f"`wait_timeout` must be positive, got {wait_timeout!r}.")
        self.flow_name = flow_name
        self.project_name = project_name
        self.parameters = parameters
        self.run_config = run_config
        self.wait = wait
        self.new_flow_context = new_flow_context
        self.run_name = run_name
        self.scheduled_start_time = scheduled_start_time
        self.poll_interval = poll_interval
        self.create_link_artifact = create_link_artifact
        self.wait_timeout = wait_timeout
        if flow_name and "name" not in kwargs:
            kwargs["name"] = f"Flow {flow_name}"
        super().__init__(**kwargs)

    @defaults_from_attrs(
        "flow_name",
        "project_name",
        "parameters",
        "run_config",
        "new_flow_context",
        "run_name",
        "scheduled_start_time",
    )
    def run(  # type: ignore[override]
        self,
        flow_name: str | None = None,
        project_name: str | None = None,
        parameters: dict[str, Any] | None = None,
        run_config: Any = None,
        new_flow_context: dict[str, Any] | None = None,
        run_name: str | None = None,
        idempotency_key: str | None = None,
        scheduled_start_time: datetime | None = None,
    ) -> str:
        """Create the flow run (and wait for it when ``wait=True``).

        Args:
            flow_name: the flow to run (default: the constructor's).
            project_name: the flow's project (default: the constructor's).
            parameters: parameters for the run (default: the constructor's).
            run_config: a run config replacing the flow's (default: the constructor's).
            new_flow_context: context values for the run (default: the constructor's).
            run_name: the run's name (default: the constructor's).
            idempotency_key: a key that makes repeated creates return one run (default:
                the current task run id, plus the map index when mapped).
            scheduled_start_time: when to start the run (default: the constructor's).

        Returns:
            The id of the flow run.

        Raises:
            ValueError: no flow name, the flow cannot be found, or the name is ambiguous
                across projects.
        """
        if flow_name is None:
            raise ValueError("Must provide a flow name.")
        flow_id = self._find_flow(flow_name, project_name)
        if idempotency_key is None:
            idempotency_key = default_idempotency_key()
        parent_flow_run_id, parent_task_run_id = lineage()
        logger = task_logger()
        child = ChildRun.create(
            flow_id,
            parameters=parameters,
            context=new_flow_context,
            run_name=run_name,
            run_config=run_config,
            scheduled_start_time=resolve_start_time(scheduled_start_time),
            idempotency_key=idempotency_key,
            parent_flow_run_id=parent_flow_run_id,
            parent_task_run_id=parent_task_run_id,
        )
        logger.debug("Flow Run %s created.", child.flow_run_id)
        logger.debug("Creating link artifact for Flow Run %s.", child.flow_run_id)
        if self.create_link_artifact:
            link_to_child_run(child.flow_run_id)
        if not self.wait:
            return child.flow_run_id
        view = child.wait(
            timeout=self.wait_timeout, poll_interval=self.poll_interval.total_seconds()
        )
        raise_mirrored(view.state, child.flow_run_id, view.name, result=child.flow_run_id)

    @staticmethod
    def _find_flow(flow_name: str, project_name: str | None) -> str:
        """Return the id of the newest unarchived version of the named flow."""
        client = default_client()
        filters: dict[str, Any] = {"name": flow_name, "archived": False, "order": "version"}
        if project_name is not None:
            filters["project_name"] = project_name
        flows = client.query_flows(**filters)
        flows = [f for f in flows if f.get("name") == flow_name and not f.get("archived")]
        if not flows:
            where = f" in project {project_name!r}" if project_name is not None else ""
            raise ValueError(f"Flow '{flow_name}' not found.{where and ' (looked' + where + ')'}")
        projects = sorted({str(f.get("project_name")) for f in flows})
        if project_name is None and len(projects) > 1:
            raise ValueError(
                f"Flow {flow_name!r} exists in several projects "
                f"({', '.join(repr(p) for p in projects)}); pass `project_name` to choose one."
            )
        best = max(flows, key=lambda f: f.get("version") or 0)
        return str(best["id"])
