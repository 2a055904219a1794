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
from aiinfra.definition.safe_yaml import YamlInputError, parse_yaml
from aiinfra.definition.yaml_tree import Loc, dotted, key_problems, line_of, loc_of
from aiinfra.errors import DefinitionError, Problem

# The embedded default (a local Ray cluster on this machine) ships inside the package, so an installed
# aiinfra finds it from any directory; the checkout's clusters/local.yaml is a link to this one file.
DEFAULT_DEFINITION = Path(__file__).resolve().parent / "local.yaml"

def load_definition(path: str | Path) -> ClusterDefinition:
    """Load and validate a cluster definition, raising DefinitionError on bad input.

    Example:
        >>> load_definition("clusters/local.yaml").backend
        'local'
        >>> load_definition(DEFAULT_DEFINITION).name
        'local'
    """
    return load(Path(path))


def load(path: Path) -> ClusterDefinition:
    """Parse, validate and cross-check ``path``; raise DefinitionError listing every problem."""
    file = str(path)
    root, data = read_located(path)
    if "source" in data:
        raise DefinitionError([Problem(file, line_of(root, ("source",)), "source", "unknown field")])
    try:
        definition = ClusterDefinition.model_validate({**data, "source": file})
    except ValidationError as exc:
        raise DefinitionError(validation_problems(file, root, exc)) from None
    problems = [located(file, root, loc, msg) for loc, msg in cross_check(definition)]
    if problems:
        raise DefinitionError(problems)
    return definition


def _parse(path: Path, expected: str) -> tuple[yaml.MappingNode, dict[str, Any]]:
    file = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DefinitionError([Problem(file, None, "", f"cannot read: {exc.strerror or exc}")]) from None

    def check_keys(root: yaml.Node) -> None:
        problems = [Problem(file, line, dotted(loc), msg) for loc, line, msg in key_problems(root)]
        if problems:
            raise DefinitionError(problems)

    try:
        root, data = parse_yaml(raw, check_keys)
    except YamlInputError as exc:
        where = dotted(loc_of(exc.root, exc.node)) if exc.root is not None and exc.node is not None else ""
        raise DefinitionError([Problem(file, exc.line, where, exc.message)]) from None
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        line = root.start_mark.line + 1 if root is not None else 1
        raise DefinitionError([Problem(file, line, "", f"expected a mapping of fields ({expected})")])
    return root, data


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
    """Things that are allowed but probably mistakes (e.g. an unknown NCCL variable), located like errors.

    Example:
        >>> definition_warnings(load_definition("clusters/a800-ib.yaml"))
        []
    """
    names = [n for n in d.nccl.env if n.startswith("NCCL_") and n not in KNOWN_NCCL_VARIABLES]
    if not names:
        return []
    try:
        root: yaml.Node | None = read_located(Path(d.source))[0]
    except DefinitionError:  # the file changed or is gone since it was loaded
        root = None
    out = []
    for name in names:
        loc: Loc = ("nccl", "env", name)
        line = line_of(root, loc) if root is not None else None
        out.append(Problem(d.source, line, dotted(loc), "not a known NCCL variable (typo?)"))
    return out



def read_located(path: Path, expected: str = "name, gpu, rails, ...") -> tuple[yaml.MappingNode, dict[str, Any]]:
    """Parse a YAML mapping safely, keeping its node tree (for line numbers); refuse duplicate keys.

    Shared by every strict YAML input (the definition, the node inventory); bounded against alias
    bombs and deep nesting; raises DefinitionError naming file and line.

    Example:
        >>> root, data = read_located(Path("clusters/local.yaml"))
        >>> data["backend"], root.start_mark.line + 1  # the first field's line (1-based)
        ('local', 3)
    """
    return _parse(path, expected)


def validation_problems(file: str, root: yaml.Node, exc: ValidationError) -> list[Problem]:
    """Every pydantic error of ``exc`` as a Problem located by line in ``root``."""
    return [Problem(file, line_of(root, err["loc"]), dotted(err["loc"]), _describe(err)) for err in exc.errors()]


def located(file: str, root: yaml.Node, loc: Loc, message: str) -> Problem:
    """A Problem for the field at ``loc`` (e.g. ``("rails", 2, "hca")``), with the line it is on."""
    return Problem(file, line_of(root, loc), dotted(loc), message)


def _describe(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    value = err.get("input")
    shown = ""
    if not isinstance(value, dict | list):
        text = repr(value)
        shown = f" (got {text if len(text) <= 80 else text[:40] + f'... ({len(text)} characters)'})"
    return f"{err['msg']}{shown}"


def definition_error(d: ClusterDefinition, issues: list[tuple[Loc, str]]) -> DefinitionError:
    """A DefinitionError locating each (field location, message) in ``d``'s source file by line.

    For checks that run after loading (a renderer's preconditions), so their
    messages name the file, line and field like the loader's own.

    Example:
        >>> d = load_definition("clusters/a800-ib.yaml")
        >>> str(definition_error(d, [(("rails", 1, "hca"), "bad")]))
        'clusters/a800-ib.yaml:19: rails[1].hca: bad'
    """
    root: yaml.Node | None = None
    try:
        root = read_located(Path(d.source))[0]
    except DefinitionError:  # the file changed or is gone since it was loaded
        pass
    return DefinitionError(
        [Problem(d.source, line_of(root, loc) if root else None, dotted(loc), msg) for loc, msg in issues]
    )
