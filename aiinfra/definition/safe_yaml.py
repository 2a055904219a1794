"""Reading untrusted YAML into plain data, every failure located by line.

A definition may come from anyone, so reading it is bounded and total: the
bytes must be UTF-8 without control characters; the document is composed once
with a SafeLoader that counts nodes, aliases and depth as it goes (an alias
bomb is refused before it is expanded); explicit tags beyond YAML's core
scalars and collections are refused; and any value PyYAML cannot construct
(``!!float abc``, ``2024-02-30``, an integer of 5,000 digits) becomes a
:class:`YamlInputError` with its line instead of a Python exception.

Example:
    >>> root, data = parse_yaml(b"name: demo\\ngpu: {per_node: 8}\\n")
    >>> data
    {'name': 'demo', 'gpu': {'per_node': 8}}
    >>> try:
    ...     parse_yaml(b"a: [1]\\nb: !!python/object:os.system x\\n")
    ... except YamlInputError as exc:
    ...     print(exc)
    line 2: tag '!!python/object:os.system' is not allowed in a cluster definition (write plain values)
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import Any

import yaml

MAX_BYTES = 1 << 20
"""A definition is a few kilobytes; a megabyte is surely not one."""
MAX_DEPTH = 32
"""Nesting levels, counted through aliases (the schema needs 4)."""
MAX_NODES = 20_000
"""YAML nodes after expanding aliases (a 1,000-GPU-node rail list is well below)."""
MAX_ALIASES = 200

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")}
_WHAT = {"int": "an integer", "float": "a number", "bool": "a boolean (true or false)",
         "timestamp": "a date", "null": "null"}
# What YAML 1.1 (PyYAML's reader) accepts as printable; anything else has no business in a definition.
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


class YamlInputError(Exception):
    """Unusable YAML: ``line`` (1-based, None when unknown) and a message for people."""

    def __init__(self, line: int | None, message: str, node: yaml.Node | None = None) -> None:
        self.line = line
        self.message = message
        self.node = node
        """The offending node, when there is one (its field path can then be found)."""
        self.root: yaml.Node | None = None
        super().__init__(f"line {line}: {message}" if line else message)


def parse_yaml(raw: bytes, check: Callable[[yaml.Node], None] | None = None) -> tuple[yaml.Node | None, Any]:
    """The composed node tree (for line numbers) and the plain data of one document.

    ``check`` sees the node tree before anything is constructed from it.

    Example:
        >>> parse_yaml(b"")
        (None, None)
    """
    text = decode_utf8(raw)
    loader = _BoundedLoader(text)
    root = None
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        check_expansion(root)
        if check is not None:
            check(root)
        return root, loader.construct_document(root)
    except YamlInputError as exc:
        exc.root = root
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        reason = " ".join(str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p)
        raise YamlInputError(mark.line + 1 if mark else 1, f"invalid YAML: {reason or type(exc).__name__}") from None
    finally:
        loader.dispose()


def decode_utf8(raw: bytes) -> str:
    """``raw`` as text; not UTF-8, too large or a control character is a located error.

    Example:
        >>> try:
        ...     decode_utf8(b"a: 1\\nb: \\xe9t\\xe9\\n")
        ... except YamlInputError as exc:
        ...     print(exc)
        line 2: not UTF-8: byte 0xe9 at column 4; save the file as UTF-8
    """
    if len(raw) > MAX_BYTES:
        raise YamlInputError(None, f"{len(raw)} bytes is too large for a cluster definition (limit {MAX_BYTES})")
    if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise YamlInputError(1, "not UTF-8 (the file is UTF-16); save it as UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        raise YamlInputError(
            line, f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start - start + 1}; save the file as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line = len(_LINE_BREAK.findall(text, 0, bad.start())) + 1
        raise YamlInputError(line, f"control character U+{ord(bad.group()):04X} is not allowed in YAML")
    return text


def check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph whose alias expansion is too large or too deep, or that contains itself.

    Sizes are memoized per node, so this costs one visit per distinct node however
    large the expansion would be.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        kids = _children(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > MAX_NODES:
                line = node.start_mark.line + 1
                raise YamlInputError(line, f"expands to more than {MAX_NODES} values (aliases?)", node)
            if depth[key] > MAX_DEPTH:
                raise YamlInputError(node.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} levels", node)
            continue
        if key in size:
            continue
        if key in on_path:
            line = node.start_mark.line + 1
            raise YamlInputError(line, "an alias refers to a node containing it (recursive)", node)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that stops composing past the bounds and constructs only core tags, with located errors."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._aliases = 0
        self._depth = 0

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        # Checked in the scanner too: PyYAML's scanner does quadratic work per '[' or '{' level
        # (stale_possible_simple_keys), long before the composer would see the depth.
        if self.flow_level >= MAX_DEPTH:
            raise YamlInputError(self.get_mark().line + 1, f"nested deeper than {MAX_DEPTH} levels")
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        line = self.peek_event().start_mark.line + 1
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise YamlInputError(line, f"more than {MAX_ALIASES} aliases")
            return super().compose_node(parent, index)  # type: ignore[return-value]
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise YamlInputError(line, f"more than {MAX_NODES} values")
        if self._depth >= MAX_DEPTH:
            raise YamlInputError(line, f"nested deeper than {MAX_DEPTH} levels")
        self._depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[return-value]
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        line = node.start_mark.line + 1
        if node.tag not in _ALLOWED_TAGS:
            tag = node.tag.replace(_CORE, "!!")
            raise YamlInputError(line, f"tag {tag!r} is not allowed in a cluster definition (write plain values)", node)
        try:
            return super().construct_object(node, deep)
        except (yaml.YAMLError, YamlInputError):
            raise
        except Exception:  # PyYAML's constructors fail with ValueError, KeyError, AttributeError... on bad values
            kind = node.tag.removeprefix(_CORE)
            shown = str(node.value)
            if kind == "int" and len(shown) > 4000:
                raise YamlInputError(line, f"an integer of {len(shown)} digits is too long", node) from None
            shown = shown if len(shown) <= 40 else f"{shown[:20]}...({len(shown)} characters)"
            raise YamlInputError(line, f"{shown!r} is not {_WHAT.get(kind, 'a valid ' + kind)}", node) from None
