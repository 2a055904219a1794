"""Where things are in a parsed YAML document: field paths, their lines, and keys that are no names.

The loader maps every problem (a pydantic error, a cross-check) back to the line of the field it is
about. Walks never expand aliases (each node is visited once), so an alias bomb costs nothing here.

Example:
    >>> import yaml
    >>> root = yaml.compose("a: {b: [1, 2]}")
    >>> line_of(root, ("a", "b", 1)), dotted(("a", "b", 1))
    (1, 'a.b[1]')
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml

Loc = tuple[str | int, ...]
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


def key_problems(root: yaml.Node) -> Iterator[tuple[Loc, int, str]]:
    """Keys that are not plain names, and keys given twice; each node visited once (aliases not expanded)."""
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, Loc]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(reversed([(item, (*loc, i)) for i, item in enumerate(node.value)]))
        if not isinstance(node, yaml.MappingNode):
            continue
        names: set[str] = set()
        children = []
        for key, value in node.value:
            line = key.start_mark.line + 1
            problem = key_problem(key)
            if problem:
                yield loc, line, problem
                continue
            if key.value in names:
                yield (*loc, key.value), line, "key given twice"
            names.add(key.value)
            children.append((value, (*loc, key.value)))
        stack.extend(reversed(children))


def loc_of(root: yaml.Node, target: yaml.Node) -> Loc:
    """Field path of ``target`` in the tree (the first way to reach it), () when it is the root or not found."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, Loc]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if node is target:
            return loc
        if id(node) in seen:
            continue
        seen.add(id(node))
        # Pushed in reverse so the walk follows the document's order.
        if isinstance(node, yaml.SequenceNode):
            stack.extend(reversed([(item, (*loc, i)) for i, item in enumerate(node.value)]))
        elif isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                stack.extend([(value, (*loc, name)), (key, (*loc, name))])
    return ()


def key_problem(key: yaml.Node) -> str | None:
    if isinstance(key, yaml.ScalarNode) and key.tag in (_STR, _MERGE):
        return None
    if not isinstance(key, yaml.ScalarNode):
        kind = "list" if isinstance(key, yaml.SequenceNode) else "mapping"
        return f"a key must be a name, not a {kind}"
    if key.tag.endswith(":null"):
        return "empty key (a field name is missing before ':')"
    shown = key.value if len(key.value) <= 40 else key.value[:40] + "..."
    return f"key {shown!r} reads as a {key.tag.rsplit(':', 1)[-1]}; field names are words (quote it if meant)"


def line_of(root: yaml.Node, loc: Loc) -> int:
    """Line of the deepest YAML node along ``loc`` (1-based)."""
    node: yaml.Node = root
    line = node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line, child = key.start_mark.line + 1, value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not is_pydantic_tag(part):
            out += f".{part}" if out else str(part)
    return out


def is_pydantic_tag(part: str) -> bool:
    # Union members show up in locations as 'int', "literal['auto']", 'function-after[...]'.
    return part in {"int", "str", "float", "bool", "none"} or "[" in part
