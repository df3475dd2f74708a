"""The chart README's value table, generated from values.yaml's `# --` comments.

A value is documented by a `# --` comment (continued by the following `#` lines) right above its
key; documenting a map documents everything under it (e.g. podSecurityContext). A leaf with no
documented ancestor is an error, so a new value cannot reach the chart without a description.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

START = "<!-- values-table:start -->"
END = "<!-- values-table:end -->"
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_.-]+):(\s|$)")


class UndocumentedValue(Exception):
    pass


def descriptions(text: str) -> dict[tuple[str, ...], str]:
    """Key path -> description, from the `# --` comments of a values file."""
    documented: dict[tuple[str, ...], str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = [stripped.removeprefix("# --").strip()]
            continue
        if stripped.startswith("#"):
            if pending is not None:
                pending.append(stripped.removeprefix("#").strip())
            continue
        if not stripped:
            pending = None
            continue
        match = _KEY.match(line)
        if match is None:  # a list item or a continuation of a value
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        if pending is not None:
            documented[tuple(k for _, k in stack)] = " ".join(pending)
            pending = None
    return documented


def _default(value: object) -> str:
    return "`" + json.dumps(value, separators=(", ", ": ")) + "`"


def rows(values: dict, documented: dict[tuple[str, ...], str]) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []

    def walk(node: object, path: tuple[str, ...]) -> None:
        if path in documented:
            out.append((".".join(path), _default(node), documented[path]))
        elif isinstance(node, dict) and node:
            for key, child in node.items():
                walk(child, path + (str(key),))
        else:
            raise UndocumentedValue(
                f"values.yaml: `{'.'.join(path)}` has no `# --` description comment above it (the README table is generated from them)"
            )

    for key, child in values.items():
        walk(child, (str(key),))
    return out


def table(values_file: Path) -> str:
    text = values_file.read_text()
    lines = ["| Value | Default | Description |", "|---|---|---|"]
    for key, default, description in rows(yaml.safe_load(text) or {}, descriptions(text)):
        escaped = description.replace("|", r"\|")
        lines.append(f"| `{key}` | {default} | {escaped} |")
    return "\n".join(lines) + "\n"


def replace_table(readme: str, new_table: str) -> str:
    """The README with the text between the markers replaced by `new_table`."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the value table markers {START} ... {END} are missing")
    return readme[: start + len(START)] + "\n" + new_table + readme[end:]
