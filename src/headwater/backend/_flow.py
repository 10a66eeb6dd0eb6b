"""FlowView: a read-only snapshot of one registered flow version.

Contract:
    * ``FlowView.from_id(id)`` accepts a flow (version) id or a flow-group id; the group
      resolves to its newest *created* version, archived or not. Anything else raises
      ``ValueError``; a non-string id raises ``TypeError``.
    * ``FlowView.from_flow_name(name, project_name="")`` looks only at unarchived versions.
      ``project_name=""`` (or ``None``) searches every project. Several matches raise
      ``ValueError`` asking for a project, unless ``last_updated=True`` picks the newest.
    * Views never change after construction; ask for a new one to see newer data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from headwater.backend._common import default_client
from headwater.exceptions import ClientError, ObjectNotFound
from headwater.storage import storage_from_ref

if TYPE_CHECKING:
    from headwater.client import Client

__all__ = ["FlowView"]


@dataclass(frozen=True)
class FlowView:
    """A registered flow version as the server knows it.

    Attributes:
        flow_id: the id of this flow version.
        name: the flow's name.
        project_name: the project the flow belongs to.
        flow_group_id: the id of the group that holds every version of this flow.
        version: the version number within the group.
        archived: whether this version is archived.
        settings: the flow group's settings.
        run_config: the flow's run config reference (a dict) or ``None``.
        serialized_flow: the serialized flow as registered.
        storage: the storage reference (a dict) or ``None``.
        core_version: the Headwater version that registered the flow.
        flow_group_labels: the flow group's labels (``None`` when not set).
        parameters: the flow's declared parameters.
        tasks: the flow's tasks (slug and name of each).
    """

    flow_id: str
    name: str
    project_name: str | None
    flow_group_id: str | None
    version: int | None
    archived: bool
    settings: dict[str, Any] = field(default_factory=dict)
    run_config: dict[str, Any] | None = None
    serialized_flow: Any = None
    storage: dict[str, Any] | None = None
    core_version: str | None = None
    flow_group_labels: list[str] | None = None
    parameters: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_flow_data(cls, data: dict[str, Any], group: dict[str, Any] | None = None) -> FlowView:
        """Build a view from the server's Flow object (and optionally its FlowGroup)."""
        group = group or {}
        return cls(
            flow_id=str(data["id"]),
            name=str(data.get("name")),
            project_name=data.get("project_name"),
            flow_group_id=data.get("flow_group_id"),
            version=data.get("version"),
            archived=bool(data.get("archived", False)),
            settings=dict(group.get("settings") or {}),
            run_config=data.get("run_config"),
            serialized_flow=data.get("serialized_flow"),
            storage=data.get("storage"),
            core_version=data.get("core_version"),
            flow_group_labels=group.get("labels"),
            parameters=list(data.get("parameters") or []),
            tasks=list(data.get("tasks") or []),
        )

    @classmethod
    def _with_group(cls, data: dict[str, Any], client: Client) -> FlowView:
        group: dict[str, Any] | None = None
        group_id = data.get("flow_group_id")
        if group_id:
            try:
                group = client.get_flow_group(group_id)
            except ClientError:
                group = None
        return cls.from_flow_data(data, group)

    @classmethod
    def from_flow_id(cls, flow_id: str, client: Client | None = None) -> FlowView:
        """Load the flow version with exactly this id.

        Raises:
            TypeError: if ``flow_id`` is not a string.
            ValueError: if no flow has this id.
        """
        _require_str("flow_id", flow_id)

        client = default_client(client)
        try:
            data = client.get_flow(flow_id)
        except ObjectNotFound:
            raise ValueError(f"No flow found with id {flow_id!r}.") from None
        return cls._with_group(data, client)

    @classmethod
    def from_flow_group_id(cls, flow_group_id: str, client: Client | None = None) -> FlowView:
        """Load the newest created version of a flow group.

        Raises:
            TypeError: if ``flow_group_id`` is not a string.
            ValueError: if the group does not exist or holds no flow.
        """
        _require_str("flow_group_id", flow_group_id)

        client = default_client(client)
        try:
            flows = client.query_flows(flow_group_id=flow_group_id, order="created", limit=1)
        except ClientError:
            flows = []
        if not flows:
            raise ValueError(f"No flow found in flow group {flow_group_id!r}.")
        return cls._with_group(flows[0], client)

    @classmethod
    def from_id(cls, flow_id: str, client: Client | None = None) -> FlowView:
        """Load a flow by flow id, falling back to a flow-group id.

        Raises:
            TypeError: if ``flow_id`` is not a string.
            ValueError: if the id is neither an existing flow nor flow group id.
        """
        _require_str("flow_id", flow_id)
        client = default_client(client)
        try:
            return cls.from_flow_id(flow_id, client=client)
        except ValueError:
            pass
        try:
            return cls.from_flow_group_id(flow_id, client=client)
        except ValueError:
            raise ValueError(
                f"The given id {flow_id!r} is not an existing flow or flow group id."
            ) from None

    @classmethod
    def from_flow_name(
        cls,
        flow_name: str,
        project_name: str | None = "",
        last_updated: bool = False,
        client: Client | None = None,
    ) -> FlowView:
        """Find an unarchived flow by name.

        Args:
            flow_name: the flow's name.
            project_name: restrict the search to this project; ``""`` or ``None`` searches
                every project.
            last_updated: when several flows match, return the newest created one instead
                of raising.
            client: the client to use (default: one built from the environment).

        Raises:
            ValueError: if nothing matches, or several flows match and ``last_updated`` is
                false.
        """
        client = default_client(client)
        filters: dict[str, Any] = {"name": flow_name, "archived": False, "order": "created"}
        if project_name:
            filters["project_name"] = project_name
        flows = client.query_flows(**filters)
        if not flows:
            where = f"name={flow_name!r}"
            if project_name:
                where += f", project_name={project_name!r}"
            raise ValueError(
                f"No results found while querying for flows where {where} and archived=False."
            )
        if len(flows) > 1 and not last_updated:
            projects = sorted({str(f.get("project_name")) for f in flows})
            raise ValueError(
                f"Found {len(flows)} flows named {flow_name!r} in projects "
                f"{', '.join(repr(p) for p in projects)}; pass `project_name` to choose one."
            )
        return cls._with_group(flows[0], client)

    @cached_property
    def flow(self) -> Any:
        """The :class:`~headwater.Flow` itself, loaded once from the flow's storage.

        Raises:
            ValueError: the flow has no storage recorded.
            headwater.exceptions.FlowStorageError: the storage cannot be loaded here.
        """
        if not self.storage:
            raise ValueError(f"Flow {self.name!r} ({self.flow_id}) has no storage recorded.")

        return storage_from_ref(self.storage).get_flow(self.name)

    def __repr__(self) -> str:
        return (
            f"FlowView(flow_id={self.flow_id!r}, name={self.name!r}, "
            f"project_name={self.project_name!r}, version={self.version!r}, "
            f"archived={self.archived!r})"
        )


def _require_str(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be a string, got {type(value).__name__}: {value!r}")
