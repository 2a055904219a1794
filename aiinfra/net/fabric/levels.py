"""The fabric test's levels, run as asked, into one report: what ``aiinfra net test`` calls.

Levels: 1 control plane and 2 node checks need the definition (``cluster``; the kubeconfig's cluster is
tested); 2 runs as Ray tasks instead with ``ray``; 3 data plane needs ``simulate``, ``netns`` or ``ray``
(``simulate`` with ``cluster`` simulates the cluster's own GPU nodes and rails; ``ray`` measures the Ray
cluster's GPU nodes, :mod:`aiinfra.net.fabric.ray_plane`). ``label``/``taint`` mark the nodes that levels
1, 2 and 3 found bad (:mod:`aiinfra.net.fabric.marks`); what the run has to say beside the report (marks
made, shared rails) comes back as notes.

Example:
    >>> result = run_fabric_test(FabricTestArgs(simulate=16, scenario="slow_rail", seed=1, rails=8))
    >>> [f"{f.code} {f.device}" for f in result.report.findings]
    ['slow-rail n02:rail4']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiinfra.errors import UsageError

if TYPE_CHECKING:
    from aiinfra.definition.model import ClusterDefinition
    from aiinfra.findings import Finding
    from aiinfra.k8s.client import Kube
    from aiinfra.net.fabric.marks import Marks
    from aiinfra.net.fabric.node_level import NodeLevel
    from aiinfra.net.fabric.report import FabricReport
    from aiinfra.net.fabric.simulate import Fabric


@dataclass
class FabricTestArgs:
    """What to test; the names and defaults of ``aiinfra net test``'s options."""

    cluster: str | None = None
    ray: str | None = None
    line_gbps: float | None = None
    nccl: bool = False
    levels: str | None = None
    namespace: str | None = None
    node_timeout: float = 300.0
    label: bool = False
    taint: bool = False
    simulate: int | None = None
    netns: bool = False
    rails: int | None = None
    nodes: int = 8
    scenario: str = "none"
    seed: int = 0
    screen: str = "2"


@dataclass
class FabricTestResult:
    """The report, and lines to show beside it (nodes marked, rails shared, findings not marked)."""

    report: FabricReport
    notes: list[str] = field(default_factory=list)


def run_fabric_test(args: FabricTestArgs) -> FabricTestResult:
    """Run the levels ``args`` ask for and allow; mark nodes when asked. Raises UsageError on bad input."""
    from aiinfra.net.fabric.marks import Marks, mark_nodes
    from aiinfra.net.fabric.report import FabricReport

    levels = _levels(args.levels or "1,2,3")
    ray_plane = 3 in levels and bool(args.ray) and args.simulate is None and not args.netns
    if args.nccl and not ray_plane:
        raise UsageError("--nccl measures level 3 on a Ray cluster's GPUs: give --ray ADDRESS and --cluster FILE "
                         "(not --simulate/--netns)")
    if ray_plane and args.line_gbps is None and not args.nccl:
        # gloo measures TCP: held to a definition's RDMA line rate, every node would read slow (and be marked).
        if args.levels is not None:
            raise UsageError(
                "--ray level 3 measures TCP through gloo, far below an RDMA rail's line rate: give "
                "--line-gbps RATE, the rate per rail (Gb/s) whose 90% it must reach"
            )
        ray_plane = False
    data_plane = 3 in levels and (args.simulate is not None or args.netns or ray_plane)
    if not args.cluster and not args.ray and not data_plane:
        raise UsageError(
            "nothing to test: give --cluster FILE (levels 1-2), --ray ADDRESS (levels 2-3) "
            "and/or --simulate N / --netns (level 3)"
        )
    if (args.label or args.taint) and not args.cluster:
        raise UsageError("--label/--taint mark Kubernetes nodes: give --cluster FILE")
    if args.ray and 2 not in levels and not ray_plane:
        raise UsageError(
            f"--ray runs level 2 (the node checks) and level 3 (without --simulate/--netns) on a Ray "
            f"cluster; --levels {args.levels} leaves both out"
        )
    target = _Target.of(args, levels)
    if ray_plane:
        from aiinfra.net.fabric.ray_plane import line_rate

        if args.nccl and (target.d is None or not target.d.rails):
            raise UsageError("--nccl measures each rail through its HCA: give --cluster FILE, whose rails name them")
        line_rate(target.d, args.line_gbps)  # bad input is said before any level runs
        _ = args.screen == "all" or _screen(args.screen, 0)
    marks, notes = Marks(), list[str]()
    found = _cluster_levels(args, levels, target, marks)
    if data_plane:
        report = _data_plane(args, found, target, marks, notes)
    else:
        report = FabricReport([f for fs in found.values() for f in fs], found)
    if target.kube is not None and (args.label or args.taint):
        notes += mark_nodes(target.kube, marks.tokens, marks.good(), args.label, args.taint, marks.details)
    return FabricTestResult(report, notes)


def _levels(value: str) -> set[int]:
    levels = {int(v) for v in value.split(",") if v.strip().isdigit()}
    if not levels or not levels <= {1, 2, 3} or len(levels) != len([v for v in value.split(",") if v.strip()]):
        raise UsageError(f"--levels {value!r}: a comma-separated subset of 1,2,3")
    return levels


def _screen(value: str, nodes: int) -> int:
    if value == "all":
        return nodes - 1
    if not value.isdigit() or int(value) < 1:
        raise UsageError(f"--screen {value!r}: a positive number of rounds, or 'all'")
    return int(value)


@dataclass
class _Target:
    """The definition (--cluster) and the kubeconfig's cluster it describes, when given."""

    d: ClusterDefinition | None = None
    kube: Kube | None = None

    @classmethod
    def of(cls, args: FabricTestArgs, levels: set[int]) -> _Target:
        """The definition, and the kubeconfig's cluster unless nothing asked needs it (--ray level 2 alone)."""
        if not args.cluster:
            return cls()
        from aiinfra.definition import load_definition
        from aiinfra.k8s.client import Kube

        d = load_definition(args.cluster)
        simulated = 3 in levels and args.simulate is not None
        needed = 1 in levels or (2 in levels and not args.ray) or args.label or args.taint or simulated
        return cls(d, Kube() if needed else None)

    def simulator_only(self) -> bool:
        """Whether every GPU node is a node of aiinfra's simulator (label ``aiinfra.io/sim``)."""
        from aiinfra.contract import SIM_LABEL
        from aiinfra.net.fabric.control_plane_read import gpu_node_selector

        assert self.d is not None and self.kube is not None
        nodes = self.kube.core.list_node(label_selector=gpu_node_selector(self.d)).items
        return bool(nodes) and all(SIM_LABEL in (n.metadata.labels or {}) for n in nodes)

    def gpu_nodes(self) -> list[str]:
        """The cluster's GPU nodes (by the definition's GPU product label), sorted."""
        from aiinfra.net.fabric.control_plane_read import gpu_node_selector

        assert self.d is not None and self.kube is not None
        return sorted(n.metadata.name for n in self.kube.core.list_node(label_selector=gpu_node_selector(self.d)).items)


def _cluster_levels(args: FabricTestArgs, levels: set[int], target: _Target, marks: Marks) -> dict[str, list[Finding]]:
    """Level 1 against the kubeconfig's cluster, level 2 as Jobs there or as Ray tasks (--ray)."""
    from aiinfra.net.fabric.control_plane import NODE_CODES, control_plane_findings
    from aiinfra.net.fabric.control_plane_read import read_control_plane

    d, kube = target.d, target.kube
    found: dict[str, list[Finding]] = {}
    if 1 in levels and d is not None and kube is not None:
        snap = read_control_plane(kube, d)
        found["control plane"] = control_plane_findings(d, snap)
        per_node: dict[str, list[Finding]] = {n: [] for n in snap.nodes}
        for f in found["control plane"]:
            if f.code in NODE_CODES:
                per_node.setdefault(f.device.split(":")[0], []).append(f)
        marks.add_findings(1, per_node)
    if 2 in levels and (args.ray or (d is not None and kube is not None)):
        node = _node_level(args, d, kube)
        found["node"] = node.all_findings()
        marks.add_findings(2, node.findings)
    return found


def _node_level(args: FabricTestArgs, d: ClusterDefinition | None, kube: Kube | None) -> NodeLevel:
    """Level 2: Ray tasks (--ray, one per Ray GPU node), else one Job per GPU node of the kubeconfig's cluster."""
    if args.ray:
        from aiinfra.net.fabric.node_level_ray import run_node_checks_ray

        return run_node_checks_ray(d, timeout=args.node_timeout, address=args.ray)
    from aiinfra.net.fabric.node_level import run_node_checks

    assert d is not None and kube is not None
    namespace = args.namespace or (d.ray.namespace if d.ray else "default")
    return run_node_checks(kube, d, namespace, timeout=args.node_timeout)


def _data_plane(
    args: FabricTestArgs, found: dict[str, list[Finding]], target: _Target, marks: Marks, notes: list[str]
) -> FabricReport:
    """Level 3: simulated (--simulate), namespaces (--netns) or Ray (--ray), after the other levels' findings."""
    from aiinfra.net.fabric.localise import LocaliseConfig, localise
    from aiinfra.net.fabric.report import FabricReport

    if args.simulate is not None:
        from aiinfra.net.fabric.simulate import FLOOR

        fabric = _simulated_fabric(args, target)
        config = LocaliseConfig(
            FLOOR * fabric.line, screen_rounds=_screen(args.screen, len(fabric.nodes)), seed=args.seed
        )
        loc = localise(fabric.nodes, fabric.rails, fabric.measure, config)
        # Simulated readings judge simulated nodes only: on a real cluster they would taint (or clear) real
        # nodes on numbers nobody measured.
        if target.kube is not None and target.simulator_only():
            marks.add_faults(loc.faults, loc.nodes, "simulated data plane", loc.suspects)
        elif args.label or args.taint:
            notes.append("--simulate: the cluster's nodes are not simulator nodes; simulated findings mark none")
        return FabricReport.from_localisation(loc, fabric.line, found)
    if not args.netns:
        return _ray_data_plane(args, found, target, marks, notes)
    from aiinfra.net.fabric.netns_plane import TCP_EFFICIENCY, NetnsDataPlane
    from aiinfra.netns import fabric as netns

    why = netns.available()
    if why:
        raise UsageError(f"--netns: {why}")
    if args.nodes < 2:
        raise UsageError("--nodes must be 2 or more")
    # Namespaces on this machine, not the cluster's nodes: nothing here marks a Kubernetes node.
    with NetnsDataPlane.start(args.nodes, args.rails or 2) as plane:
        config = LocaliseConfig(plane.floor, screen_rounds=_screen(args.screen, args.nodes), seed=args.seed)
        loc = localise(plane.names, plane.rails, plane.measure, config)
        return FabricReport.from_localisation(loc, plane.line_gb_s * TCP_EFFICIENCY, found)


def _ray_data_plane(
    args: FabricTestArgs, found: dict[str, list[Finding]], target: _Target, marks: Marks, notes: list[str]
) -> FabricReport:
    """Level 3 between pinned actors on the Ray GPU nodes; its faults mark those nodes (--label/--taint)."""
    from aiinfra.net.fabric.ray_plane import line_rate, localise_on_ray
    from aiinfra.net.fabric.report import FabricReport

    line = line_rate(target.d, args.line_gbps)  # bad input before connecting
    screen = None if args.screen == "all" else _screen(args.screen, 0)
    if args.nccl:
        return _nccl_data_plane(args, found, target, marks, notes, line, screen)
    result = localise_on_ray(args.ray, target.d, line, screen, args.seed)
    notes.extend(result.notes)
    loc = result.loc
    marks.add_faults(loc.faults, loc.nodes, "Ray data plane", loc.suspects)
    return FabricReport.from_localisation(loc, line, found)


def _nccl_data_plane(args: FabricTestArgs, found: dict[str, list[Finding]], target: _Target, marks: Marks,
                     notes: list[str], line: float, screen: int | None) -> FabricReport:
    """Level 3 through NCCL: rails localised, transports read from NCCL's logs, NVLink inside each node."""
    from aiinfra.net.fabric.nccl_level import nccl_level
    from aiinfra.net.fabric.report import FabricReport

    assert target.d is not None
    level = nccl_level(args.ray, target.d, line, screen, args.seed)
    notes.extend(level.notes)
    levels = {**found, "transports": level.transports, "nvlink": level.nvlink}
    if level.loc is None:
        report = FabricReport([f for fs in levels.values() for f in fs], levels, line_gb_s=line)
    else:
        marks.add_faults(level.loc.faults, level.loc.nodes, "NCCL data plane", level.loc.suspects)
        report = FabricReport.from_localisation(level.loc, line, levels)
    report.socket_fallback = level.socket_nodes
    return report


def _simulated_fabric(args: FabricTestArgs, target: _Target) -> Fabric:
    """N seeded nodes n00.., or with --cluster the cluster's GPU nodes and the definition's rails."""
    from aiinfra.net.fabric.simulate import Fabric

    if target.d is None or target.kube is None:
        if (args.simulate or 0) < 2 or (args.rails or 8) < 1:
            raise UsageError("--simulate needs 2 or more nodes (or --cluster: its GPU nodes) and --rails 1 or more")
        return Fabric.scenario(args.scenario, args.simulate or 0, args.rails or 8, args.seed)
    nodes, rails = target.gpu_nodes(), [r.name for r in target.d.rails]
    if args.simulate not in (0, len(nodes)) or args.rails not in (None, len(rails)):
        raise UsageError(
            f"--simulate with --cluster simulates the cluster's {len(nodes)} GPU node(s) and "
            f"{len(rails)} rail(s): give --simulate alone (or --simulate {len(nodes)})"
        )
    if len(nodes) < 2 or not rails:
        raise UsageError(f"--simulate with --cluster needs 2 or more GPU nodes with rails; the cluster has {nodes}")
    fabric = Fabric.scenario(args.scenario, len(nodes), len(rails), args.seed, node_names=nodes, rail_names=rails)
    fabric.line = min(r.rate_gbps for r in target.d.rails) / 8  # Gb/s -> GB/s per rail
    return fabric
