"""Reading a cluster definition from YAML, with every error located by line.

PyYAML's node tree keeps the line of each key, so a pydantic error location
such as ``('rails', 2, 'hca')`` is mapped back to ``file:line``. Checks that
span fields (duplicate HCAs, GPU coverage, RoCE GIDs) run after the model is
built and are reported the same way, all at once.

Example:
    >>> from pathlib import Path
    >>> from aiinfra.definition.loader import load
    >>> load(Path("clusters/roce.yaml")).network.gid_index
    'auto'
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from aiinfra.definition.model import ClusterDefinition, LinkLayer, RailResourceKind
from aiinfra.definition.nccl_variables import KNOWN_NCCL_VARIABLES
from aiinfra.errors import DefinitionError, Problem

Loc = tuple[str | int, ...]


def load_definition(path: str | Path) -> ClusterDefinition:
    """Load and validate a cluster definition, raising DefinitionError on bad input.

    Example:
        >>> load_definition("clusters/local.yaml").backend
        'local'
    """
    return load(Path(path))


def load(path: Path) -> ClusterDefinition:
    """Parse, validate and cross-check ``path``; raise DefinitionError listing every problem."""
    file = str(path)
    root, data = read_located(path)
    try:
        definition = ClusterDefinition.model_validate({**data, "source": file})
    except ValidationError as exc:
        raise DefinitionError(validation_problems(file, root, exc)) from None
    problems = [located(file, root, loc, msg) for loc, msg in cross_check(definition)]
    if problems:
        raise DefinitionError(problems)
    return definition


def cross_check(d: ClusterDefinition) -> Iterator[tuple[Loc, str]]:
    """Yield (field location, message) for inconsistencies no single field shows."""
    if d.backend == "kubernetes":
        for section in ("gpu", "node", "ray"):
            if getattr(d, section) is None:
                yield (section,), "required when backend is 'kubernetes'"
    gpus = d.gpu.per_node if d.gpu else None
    seen: dict[str, dict[object, int]] = {"name": {}, "hca": {}, "resource": {}, "network": {}}
    served: dict[int, int] = {}
    for i, rail in enumerate(d.rails):
        # A dual-port HCA may carry two rails, so an HCA is a duplicate only on the same port.
        hca = rail.hca if rail.port == 1 else f"{rail.hca} port {rail.port}"
        for key, value in (
            ("name", rail.name),
            ("hca", hca),
            ("resource", rail.resource_name),
            ("network", rail.network),
        ):
            if value in seen[key]:
                yield ("rails", i, key), f"duplicate '{value}' (also rails[{seen[key][value]}])"
            seen[key].setdefault(value, i)
        for j, gpu in enumerate(rail.gpus):
            if gpus is not None and gpu >= gpus:
                yield ("rails", i, "gpus", j), f"GPU index {gpu} out of range (gpu.per_node is {gpus})"
            elif gpu in served:
                yield ("rails", i, "gpus", j), f"GPU {gpu} already served by rails[{served[gpu]}]"
            else:
                served[gpu] = i
        if rail.resource_kind is RailResourceKind.SRIOV and rail.resource is None:
            yield ("rails", i, "resource"), "an SR-IOV rail needs the VF resource name (e.g. nvidia.com/sriov_rail0)"
        if rail.link_layer is LinkLayer.ETHERNET and d.rail_gid_index(rail) is None:
            yield (
                ("rails", i, "gid_index"),
                "a RoCE rail needs a GID index: set network.gid_index or this rail's gid_index ('auto' or a number)",
            )
    if d.ray and d.gpu and d.ray.workers.gpus > d.gpu.per_node:
        yield ("ray", "workers", "gpus"), f"{d.ray.workers.gpus} GPUs per worker but nodes have {d.gpu.per_node}"
    if d.ray and d.node:
        w = d.ray.workers
        if w.cpu > d.node.cpu:
            yield ("ray", "workers", "cpu"), f"{w.cpu} CPUs per worker but nodes have {d.node.cpu}"
        if w.memory_gib > d.node.memory_gib:
            yield ("ray", "workers", "memory_gib"), f"{w.memory_gib} GiB per worker but nodes have {d.node.memory_gib}"
        if w.shm_gib > w.memory_gib:
            yield ("ray", "workers", "shm_gib"), f"/dev/shm of {w.shm_gib} GiB exceeds the worker's {w.memory_gib} GiB"
    keep = d.topology.keep_within
    if keep is not None and keep not in d.topology.labels:
        yield ("topology", "keep_within"), f"'{keep}' is not one of topology.labels"
    for name in d.nccl.env:
        if not name.startswith("NCCL_"):
            yield ("nccl", "env", name), "only NCCL_* variables belong here"


def definition_warnings(d: ClusterDefinition) -> list[Problem]:
    """Things that are allowed but probably mistakes (e.g. an unknown NCCL variable)."""
    out = []
    for name in d.nccl.env:
        if name.startswith("NCCL_") and name not in KNOWN_NCCL_VARIABLES:
            out.append(Problem(d.source, None, f"nccl.env.{name}", "not a known NCCL variable (typo?)"))
    return out



def read_located(path: Path, expected: str = "name, gpu, rails, ...") -> tuple[yaml.MappingNode, dict[str, Any]]:
    """Parse a YAML mapping keeping its node tree (for line numbers); refuse duplicate keys.

    Shared by every strict YAML input (the definition, the node inventory);
    raises DefinitionError naming file and line.

    Example:
        >>> root, data = read_located(Path("clusters/local.yaml"))
        >>> data["backend"], root.start_mark.line + 1  # the first field's line (1-based)
        ('local', 3)
    """
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionError([Problem(file, None, "", f"cannot read: {exc.strerror}")]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise DefinitionError([Problem(file, line, "", f"invalid YAML: {reason}")]) from None
    if root is None or not isinstance(root, yaml.MappingNode):
        raise DefinitionError([Problem(file, 1, "", f"expected a mapping of fields ({expected})")])
    dupes = list(_duplicate_keys(root, ()))
    if dupes:
        raise DefinitionError([Problem(file, line, _dotted(loc), "key given twice") for loc, line in dupes])
    return root, yaml.safe_load(text)


def validation_problems(file: str, root: yaml.Node, exc: ValidationError) -> list[Problem]:
    """Every pydantic error of ``exc`` as a Problem located by line in ``root``."""
    return [Problem(file, _line_of(root, err["loc"]), _dotted(err["loc"]), _describe(err)) for err in exc.errors()]


def located(file: str, root: yaml.Node, loc: Loc, message: str) -> Problem:
    """A Problem for the field at ``loc`` (e.g. ``("rails", 2, "hca")``), with the line it is on."""
    return Problem(file, _line_of(root, loc), _dotted(loc), message)

def _duplicate_keys(node: yaml.Node, loc: Loc) -> Iterator[tuple[Loc, int]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = key.value
            if name in seen:
                yield (*loc, name), key.start_mark.line + 1
            seen.add(name)
            yield from _duplicate_keys(value, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, i))


def _line_of(root: yaml.Node, loc: Loc) -> int | None:
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


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _is_pydantic_tag(part):
            out += f".{part}" if out else str(part)
    return out


def _is_pydantic_tag(part: str) -> bool:
    # Union members show up in locations as 'int', "literal['auto']", 'function-after[...]'.
    return part in {"int", "str", "float", "bool", "none"} or "[" in part


def _describe(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    value = err.get("input")
    shown = f" (got {value!r})" if not isinstance(value, dict | list) else ""
    return f"{err['msg']}{shown}"
