"""Edge annotations at their Prefect 1 path (``prefect.utilities.edges``)."""

from headwater.core.edge import flatten, mapped, unmapped

__all__ = ["flatten", "mapped", "unmapped"]
