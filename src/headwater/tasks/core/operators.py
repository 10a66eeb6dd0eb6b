"""Operator tasks at their public path; ``Task``'s operators build them, so they live in
:mod:`headwater.core`.
"""

from headwater.core._operators import (
    Add,
    And,
    Div,
    Equal,
    FloorDiv,
    GetItem,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    Mod,
    Mul,
    Not,
    NotEqual,
    Or,
    Pow,
    Sub,
)

__all__ = [
    "Add",
    "And",
    "Div",
    "Equal",
    "FloorDiv",
    "GetItem",
    "GreaterThan",
    "GreaterThanOrEqual",
    "LessThan",
    "LessThanOrEqual",
    "Mod",
    "Mul",
    "Not",
    "NotEqual",
    "Or",
    "Pow",
    "Sub",
]
