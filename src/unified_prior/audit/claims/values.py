"""Claimed values: what a config entry holds when it is written literally."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from unified_prior.audit.model.tree import dotted, last_part


@dataclass(frozen=True)
class NotLiteral:
    """A claim that is not written as a literal (``WARMUP``, ``2 * k``): messages show its
    source text, and no rule compares it as a value."""

    text: str

    def __repr__(self) -> str:
        return self.text


def is_unknown(value: Any) -> bool:
    """Whether a claimed value is not known statically."""
    return value is ... or isinstance(value, NotLiteral)


def literal_value(node: ast.AST | None) -> Any:
    """The value a config entry holds when it is written literally; a ``NotLiteral`` with
    the source text when it is not.

    ``src.get("k", 2)``, ``int(os.environ.get("K", "2"))`` and ``getattr(a, "k", 2)`` give
    their default: that is what the script claims unless overridden.
    """
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        return node.value
    unknown = NotLiteral(ast.unparse(node))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = literal_value(node.operand)
        return -inner if isinstance(inner, int | float) and inner is not True else unknown
    if isinstance(node, ast.Call):
        name = dotted(node.func) or ""
        if name in {"int", "float", "bool", "str"} and len(node.args) == 1:
            inner = literal_value(node.args[0])
            if is_unknown(inner):
                return unknown
            try:
                return {"int": int, "float": float, "bool": bool, "str": str}[name](inner)
            except (TypeError, ValueError):
                return unknown
        if last_part(name) == "get" and len(node.args) == 2:
            return literal_value(node.args[1])
        if name == "getattr" and len(node.args) == 3:
            return literal_value(node.args[2])
    return unknown


def is_off(value: Any) -> bool:
    """A literal that switches a feature off: None, 0, False, "", "none", "constant"."""
    if is_unknown(value) or value is True:
        return False
    if value is None or value is False:
        return True
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, str):
        return value.strip().lower() in {"", "none", "null", "off", "false", "constant", "fixed"}
    return False


def fmt_value(value: Any) -> str:
    return "?" if value is ... else repr(value)  # a NotLiteral shows its source text
