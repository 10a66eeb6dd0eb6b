"""TaskRunView: a read-only snapshot of one task run, and how its result is read.

Contract:
    * ``TaskRunView.from_task_run_id(id)`` / ``from_task_slug(slug, flow_run_id,
      map_index=-1)`` load one task run; a missing one raises ``ValueError``.
    * ``get_result()`` needs a finished state. Results written to the server's result
      store (``ServerResult``, the default for backend runs) are downloaded through the
      API, so no shared filesystem is needed; other result classes are read from their
      own location. A ``Mapped`` parent returns the list of its children's results in
      map-index order. Every failure mode raises with a message naming the task run.
    * A loaded result is cached on the view; a failed load leaves it unloaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from headwater.backend._common import default_client, deserialize_state, state_repr
from headwater.engine.results import result_from_ref
from headwater.engine.serializers import serializer_from_ref
from headwater.engine.state import Scheduled
from headwater.exceptions import ObjectNotFound

if TYPE_CHECKING:
    from headwater.client import Client
    from headwater.engine.state import State

__all__ = ["TaskRunView"]


class _NotLoaded:
    """Pickle-safe marker of a result that was not loaded yet."""


_NOT_LOADED = object()


class TaskRunView:
    """A task run as the server knows it.

    Attributes:
        task_run_id: the task run's id.
        task_slug: the slug of the task in its flow.
        name: the task's name.
        state: the task run's state (``Scheduled`` if the server has none yet).
        map_index: ``-1`` for an unmapped task or a mapped parent, else the child index.
        flow_run_id: the flow run the task run belongs to.
    """

    def __init__(
        self,
        task_run_id: str,
        task_slug: str,
        name: str | None,
        state: State,
        map_index: int,
        flow_run_id: str,
        *,
        state_data: dict[str, Any] | None = None,
        client: Client | None = None,
    ) -> None:
        self.task_run_id = task_run_id
        self.task_slug = task_slug
        self.name = name
        self.state = state
        self.map_index = map_index
        self.flow_run_id = flow_run_id
        self._state_data = state_data or {}
        self._client = client
        self._result: Any = _NOT_LOADED

    @property
    def task_id(self) -> str:
        """The task's identity within its flow (Headwater identifies tasks by slug)."""
        return self.task_slug

    @classmethod
    def from_task_run_data(cls, data: dict[str, Any], client: Client | None = None) -> TaskRunView:
        """Build a view from the server's TaskRun object."""
        state_data = data.get("state")
        return cls(
            task_run_id=str(data["id"]),
            task_slug=str(data.get("task_slug")),
            name=data.get("task_name"),
            state=deserialize_state(state_data, default=Scheduled),
            map_index=int(data.get("map_index", -1)),
            flow_run_id=str(data.get("flow_run_id")),
            state_data=state_data,
            client=client,
        )

    @classmethod
    def from_task_run_id(cls, task_run_id: str, client: Client | None = None) -> TaskRunView:
        """Load a task run by id.

        Raises:
            TypeError: if ``task_run_id`` is not a string.
            ValueError: if no task run has this id.
        """
        if not isinstance(task_run_id, str):
            raise TypeError(
                f"`task_run_id` must be a string, got {type(task_run_id).__name__}: {task_run_id!r}"
            )

        client = default_client(client)
        try:
            data = client.get_task_run(task_run_id)
        except ObjectNotFound:
            raise ValueError(f"No task run found with id {task_run_id!r}.") from None
        return cls.from_task_run_data(data, client=client)

    @classmethod
    def from_task_slug(
        cls,
        task_slug: str,
        flow_run_id: str,
        map_index: int = -1,
        client: Client | None = None,
    ) -> TaskRunView:
        """Load the task run of ``task_slug`` (at ``map_index``) in a flow run.

        Raises:
            ValueError: if the flow run has no such task run.
        """
        client = default_client(client)
        rows = client.query_task_runs(
            flow_run_id=flow_run_id, task_slug=task_slug, map_index=map_index
        )
        rows = [
            r for r in rows if r.get("task_slug") == task_slug and r.get("map_index") == map_index
        ]
        if not rows:
            raise ValueError(
                f"No task runs found for task slug {task_slug!r} with map index {map_index} "
                f"in flow run {flow_run_id}."
            )
        if len(rows) > 1:
            raise ValueError(
                f"Found {len(rows)} task runs for task slug {task_slug!r} with map index "
                f"{map_index} in flow run {flow_run_id}; expected one."
            )
        return cls.from_task_run_data(rows[0], client=client)

    # -- results -------------------------------------------------------------------------

    def get_result(self) -> Any:
        """Return the task run's value, loading it once.

        Raises:
            ValueError: the task run is not finished, has no readable result, or is a
                mapped parent with missing or unfinished children.
            TypeError: the stored result class cannot be read from here.
            FileNotFoundError: the result's location does not exist (anymore).
        """
        if self._result is _NOT_LOADED:
            if self.state.is_mapped():
                self._result = self._load_mapped()
            else:
                self._result = self._load_own()
        return self._result

    def _describe(self) -> str:
        index = "" if self.map_index == -1 else f" (map index {self.map_index})"
        return f"task run {self.task_slug!r}{index} of flow run {self.flow_run_id}"

    def _load_own(self) -> Any:
        if not self.state.is_finished():
            raise ValueError(
                f"The {self._describe()} is not finished (it is {state_repr(self.state)}); "
                "its result cannot be read yet."
            )
        ref = self._state_data.get("result")
        if self.state.is_failed():
            raise ValueError(
                f"The {self._describe()} failed ({state_repr(self.state)}), so it has no "
                "result to read."
            )
        if not ref or (ref.get("type") in ("NoResult", "Result") and not ref.get("location")):
            raise ValueError(
                f"The {self._describe()} ended {state_repr(self.state)} but its result was "
                "never written (checkpointing was off or the task has no result)."
            )
        result_type = ref.get("type")
        if result_type in (None, "NoResult", "Result"):
            raise TypeError(
                f"The {self._describe()} has a result of type {result_type!r}, which holds "
                "no readable value."
            )
        if result_type == "ServerResult":
            return self._load_from_server(ref)
        location = ref.get("location")
        if not location:
            raise ValueError(f"The {self._describe()} has a {result_type} without a location.")

        try:
            result = result_from_ref(ref)
        except (ValueError, TypeError, KeyError) as exc:
            raise TypeError(
                f"The {self._describe()} has a result of type {result_type!r} that cannot be "
                f"read here: {exc}"
            ) from exc
        return result.read(location).value

    def _load_from_server(self, ref: dict[str, Any]) -> Any:
        # deferred: ServerResult's module imports the client (httpx), only needed here.
        from headwater.engine.backend._server_result import task_run_id_from_location

        client = default_client(self._client)
        # A Cached state's reference names the task run that stored the value (an earlier
        # run's); otherwise it is this task run's own.
        owner = self.task_run_id
        location = ref.get("location")
        if isinstance(location, str) and location:
            try:
                owner = task_run_id_from_location(location)
            except ValueError:
                pass  # not a ServerResult location: fall back to this task run's own
        try:
            data = client.download_result(owner)
        except ObjectNotFound:
            raise ValueError(
                f"The {self._describe()} has no result in the server's result store."
            ) from None
        return _deserialize(data, ref.get("serializer"))

    def _load_mapped(self) -> Any:
        client = default_client(self._client)
        rows = client.query_task_runs(flow_run_id=self.flow_run_id, task_slug=self.task_slug)
        children = sorted(
            (
                TaskRunView.from_task_run_data(r, client=client)
                for r in rows
                if r.get("task_slug") == self.task_slug and int(r.get("map_index", -1)) >= 0
            ),
            key=lambda view: view.map_index,
        )
        if not children:
            raise ValueError(f"The mapped {self._describe()} has no child task runs.")
        expected = getattr(self.state, "n_map_states", None)
        if isinstance(expected, int) and expected != len(children):
            raise ValueError(
                f"The mapped {self._describe()} should have {expected} children but the "
                f"server has {len(children)}."
            )
        unfinished = [c.map_index for c in children if not c.state.is_finished()]
        if unfinished:
            raise ValueError(
                f"The mapped {self._describe()} has unfinished children at map indexes "
                f"{unfinished}."
            )
        return [child.get_result() for child in children]

    def iter_mapped(self) -> Iterator[TaskRunView]:
        """Yield the children of a mapped task run, in map-index order, one query each.

        Raises:
            TypeError: if this task run is not a mapped parent.
        """
        if not self.state.is_mapped():
            raise TypeError(
                f"The {self._describe()} is {state_repr(self.state)}, not Mapped; it has no "
                "mapped children."
            )
        index = 0
        while True:
            try:
                yield TaskRunView.from_task_slug(
                    self.task_slug, self.flow_run_id, map_index=index, client=self._client
                )
            except ValueError:
                return
            index += 1

    def get_latest(self) -> TaskRunView:
        """Return a new view of this task run with fresh data (a loaded result is kept)."""
        view = TaskRunView.from_task_run_id(self.task_run_id, client=self._client)
        if self._result is not _NOT_LOADED:
            view._result = self._result
        return view

    def __getstate__(self) -> dict[str, Any]:
        # Views travel as task results; the client (open connections) stays behind.
        state = dict(self.__dict__)
        state["_client"] = None
        if state["_result"] is _NOT_LOADED:
            state["_result"] = _NotLoaded()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("_result"), _NotLoaded):
            state["_result"] = _NOT_LOADED
        self.__dict__.update(state)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskRunView):
            return NotImplemented
        return self.task_run_id == other.task_run_id and self.state == other.state

    def __hash__(self) -> int:
        return hash(self.task_run_id)

    def __repr__(self) -> str:
        result = "<not loaded>" if self._result is _NOT_LOADED else repr(self._result)
        return (
            f"TaskRunView(task_run_id={self.task_run_id!r}, task_slug={self.task_slug!r}, "
            f"map_index={self.map_index}, state={state_repr(self.state)}, result={result})"
        )


def _deserialize(data: bytes, serializer_ref: dict[str, Any] | None) -> Any:
    """Decode result bytes with the serializer named in the result reference."""
    if serializer_ref:
        return serializer_from_ref(serializer_ref).deserialize(data)
    # deferred: cloudpickle (~40 ms) only for results without a serializer reference.
    import cloudpickle

    return cloudpickle.loads(data)
