"""Decode Stripe's form encoding: `metadata[plan]=x`, `line_items[0][price]=p`, `expand[]=customer`.

The SDK encodes lists with explicit indices (`expand[0]=...`) and nested dicts with brackets; older clients send
`key[]=v`. Both decode to the same nested dicts and lists, so handlers see plain JSON-like values (all leaves are
strings, as on the wire; handlers convert the ones that are numbers or booleans).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_PART = re.compile(r"\[([^\]]*)\]")


class FormError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def parse_form(raw: str) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        head, _, rest = key.partition("[")
        path = [head, *_PART.findall("[" + rest)] if rest else [head]
        _assign(root, path, value, key)
    return _lists_from_indexed_dicts(root)


def _assign(root: dict[str, Any], path: list[str], value: str, key: str) -> None:
    node: dict[str, Any] = root
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        if part == "":  # `key[]=v`: append under the next free index
            part = str(sum(1 for k in node if k.isdigit()))
        if last:
            node[part] = value
            return
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise FormError(key, f"Invalid parameter: {key} mixes a value and nested keys")
        node = child


def _lists_from_indexed_dicts(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {k: _lists_from_indexed_dicts(v) for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted
