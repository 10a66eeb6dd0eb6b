"""Client methods for flows (registered versions) and flow groups, and registration.

Contract:
    :meth:`FlowsMixin.register` requires the project to exist (as Prefect 1 does: a
    missing name is a ``TypeError``, an unknown project a ``ValueError``, both also
    Headwater exceptions), gives a flow without storage the default storage (the class
    configured at ``flows.defaults.storage.default_class``, ``headwater.storage.Local``
    unless changed, as in Prefect 1), adds the flow to it and builds it, then sends the flow's serialized form with its
    storage and run-config references. It prints nothing. Labels given to ``register``
    are stored on the version; without them the version has none.
"""

from __future__ import annotations

from typing import Any

from headwater._version import __version__
from headwater.client._base import route
from headwater.client._resource import Resource
from headwater.exceptions import ObjectNotFound, ProjectNameRequired, ProjectNotFound
from headwater.utilities.configuration import configured_class

__all__ = ["FlowsMixin"]

_REGISTER = route("POST", "/flows")
_LIST = route("GET", "/flows")
_READ = route("GET", "/flows/{flow_id}")
_ARCHIVE = route("POST", "/flows/{flow_id}/archive", idempotent=True)
_READ_GROUP = route("GET", "/flow-groups/{flow_group_id}")
_UPDATE_GROUP = route("PATCH", "/flow-groups/{flow_group_id}", idempotent=True)
_PROJECT = route("GET", "/projects/by-name/{name}")


def _ref(obj: Any) -> dict[str, Any] | None:
    """The JSON reference of a storage or run config (a dict passes through)."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj
    for attr in ("to_ref", "serialize"):
        fn = getattr(obj, attr, None)
        if callable(fn):
            data = fn()
            if isinstance(data, dict):
                return data
    raise TypeError(f"{type(obj).__name__} has no JSON reference (to_ref)")


def _default_storage() -> Any:
    # Named by configuration, not imported: storage loads flows, which register through
    # this client, so the client (HTTP only) stays below the storage layer's users.
    return configured_class("flows.defaults.storage", "headwater.storage.Local")()


class FlowsMixin(Resource):
    """Register flows and read flow versions and flow groups."""

    def register(
        self,
        flow: Any,
        project_name: str | None = None,
        build: bool = True,
        set_schedule_active: bool = True,
        version_group_id: str | None = None,
        compressed: bool = True,
        no_url: bool = False,
        idempotency_key: str | None = None,
        labels: list[str] | None = None,
        description: str | None = None,
        storage: Any = None,
    ) -> str:
        """Register a new version of ``flow`` in a project.

        Args:
            flow: the :class:`~headwater.Flow`.
            project_name: the project; it must exist.
            build: build the flow's storage first (``False`` when it is built already).
            set_schedule_active: switch the flow's schedule on (default) or off on the
                server; with it on, the server creates the scheduled runs ahead and
                refuses a schedule whose required parameters would have no value.
            version_group_id: accepted for Prefect 1 compatibility; versions are grouped
                by project and flow name.
            compressed: accepted for Prefect 1 compatibility.
            no_url: accepted for Prefect 1 compatibility.
            idempotency_key: registering again with the same key returns the existing
                version instead of creating a new one.
            labels: labels of this version (runs fall back to them when neither the run,
                its run config nor the flow group names labels).
            description: free text shown with the flow.
            storage: a storage to keep the flow in, replacing ``flow.storage``.

        Returns:
            The id of the registered flow version.

        Raises:
            ProjectNameRequired: no project name was given (a ``TypeError`` and a
                ``ValueError``).
            ProjectNotFound: the project does not exist (a ``ClientError`` and a
                ``ValueError``).
            ClientError: the server refused the flow.
            FlowStorageError: the flow cannot be stored.
        """
        if not project_name:
            raise ProjectNameRequired(
                f"Registering flow {getattr(flow, 'name', flow)!r} needs a project_name: "
                "'project_name' is a required field when registering a flow"
            )
        try:
            self._transport.json(_PROJECT, {"name": project_name})
        except ObjectNotFound:
            raise ProjectNotFound(project_name) from None
        if storage is None:
            storage = getattr(flow, "storage", None)
        if storage is None:
            storage = _default_storage()
        if flow.name not in storage:
            storage.add_flow(flow)
        if build:
            storage = storage.build()
        flow.storage = storage
        serialized = flow.serialize(build=False)
        run_config = getattr(flow, "run_config", None)
        body = {
            "name": flow.name,
            "project_name": project_name,
            "serialized_flow": serialized,
            "storage": _ref(storage),
            "run_config": _ref(run_config),
            "labels": sorted(set(labels)) if labels else None,
            "description": description or getattr(flow, "description", None),
            "idempotency_key": idempotency_key,
            "core_version": __version__,
            "set_schedule_active": bool(set_schedule_active),
        }
        return str(self._transport.json(_REGISTER, json_body=body)["id"])

    def get_flow(self, flow_id: str) -> dict[str, Any]:
        """One registered flow version.

        Raises:
            ObjectNotFound: there is no such version.
        """
        result: dict[str, Any] = self._transport.json(_READ, {"flow_id": flow_id})
        return result

    def query_flows(
        self,
        name: str | None = None,
        project_name: str | None = None,
        archived: bool | None = None,
        flow_group_id: str | None = None,
        order: str = "version",
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[dict[str, Any]]:
        """Flow versions matching the filters, newest first.

        Args:
            name: the flow name.
            project_name: the project.
            archived: only archived (True) or only active (False) versions.
            flow_group_id: only this group's versions.
            order: ``"version"`` or ``"created"``.
            limit: at most this many.
            offset: skip this many.
        """
        params = {
            "name": name,
            "project_name": project_name,
            "archived": archived,
            "flow_group_id": flow_group_id,
            "order": order,
            "limit": limit,
            "offset": offset,
        }
        result: list[dict[str, Any]] = self._transport.json(_LIST, params=params)
        return result

    def archive_flow(self, flow_id: str) -> dict[str, Any]:
        """Archive a flow version (no new runs of it)."""
        result: dict[str, Any] = self._transport.json(_ARCHIVE, {"flow_id": flow_id})
        return result

    def get_flow_group(self, flow_group_id: str) -> dict[str, Any]:
        """A flow group: settings shared by every version of a flow."""
        result: dict[str, Any] = self._transport.json(_READ_GROUP, {"flow_group_id": flow_group_id})
        return result

    def update_flow_group(self, flow_group_id: str, **fields: Any) -> dict[str, Any]:
        """Change a flow group's ``labels``, ``default_parameters`` or ``run_config``.

        Only the fields given change; ``labels=None`` means "not set".

        Raises:
            TypeError: an unknown field.
        """
        unknown = sorted(set(fields) - {"labels", "default_parameters", "run_config"})
        if unknown:
            raise TypeError(f"update_flow_group got unknown field(s): {', '.join(unknown)}")
        if "run_config" in fields:
            fields["run_config"] = _ref(fields["run_config"])
        result: dict[str, Any] = self._transport.json(
            _UPDATE_GROUP, {"flow_group_id": flow_group_id}, json_body=fields
        )
        return result
