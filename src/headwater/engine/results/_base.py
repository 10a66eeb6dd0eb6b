"""The Result interface at its former private path; it lives in :mod:`headwater.engine._result_base`."""

from headwater.engine._result_base import (
    NoResult,
    NoResultType,
    Result,
    UnresolvedResult,
    format_location,
    register_result_type,
    result_from_ref,
    result_from_ref_lenient,
)

__all__ = [
    "NoResult",
    "NoResultType",
    "Result",
    "UnresolvedResult",
    "format_location",
    "register_result_type",
    "result_from_ref",
    "result_from_ref_lenient",
]
