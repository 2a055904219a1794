"""``aiinfra node check``: is this node's hardware what the cluster definition says?

Exit 0 when nothing is an error, 1 when a check fails, 2 on bad input.

Example:
    $ aiinfra node check --cluster clusters/a800-ib.yaml
    node: 8x NVIDIA A800-SXM4-80GB, 6 RDMA devices, GPUDirect: nvidia_peermem
    ...
    ok: no errors, 0 warnings
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from pydantic import ValidationError

from aiinfra.definition.loader import load_definition
from aiinfra.definition.model import ClusterDefinition, definition_from_env
from aiinfra.errors import UsageError
from aiinfra.node.checks import Finding, check_node, failed
from aiinfra.node.data_ports import data_ports
from aiinfra.node.discovery import NodeInventory, discover_node
from aiinfra.node.gpu import RecordedNvml


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("node", help="inspect the node this runs on (GPUs, RDMA ports, PCIe, GPUDirect)")
    node_sub = p.add_subparsers(dest="node_command", metavar="SUBCOMMAND", required=True)
    check = node_sub.add_parser("check", help="check GPUs and RDMA ports against the cluster definition")
    add_node_arguments(check)
    check.add_argument("--json", action="store_true", help="print findings and the discovered node as JSON")
    check.set_defaults(func=run_check)


def add_node_arguments(p: argparse.ArgumentParser) -> None:
    """--cluster, --sysfs-root and --nvml-recording, shared with ``aiinfra nccl env``."""
    p.add_argument("--cluster", metavar="FILE", help="cluster definition (default: the one the pod carries, if any)")
    p.add_argument("--sysfs-root", metavar="DIR", default="/", help="prefix for /sys and /proc (default: /)")
    p.add_argument("--nvml-recording", metavar="FILE", help="replay a recorded NVML JSON instead of the driver")


def resolve(args: argparse.Namespace) -> tuple[ClusterDefinition | None, NodeInventory]:
    """The definition and the discovered node the arguments name."""
    d = load_definition(args.cluster) if args.cluster else _definition_from_pod()
    root = Path(args.sysfs_root)
    if not root.is_dir():
        raise UsageError(f"--sysfs-root {root}: not a directory")
    nvml = None
    if args.nvml_recording:
        try:
            nvml = RecordedNvml(json.loads(Path(args.nvml_recording).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--nvml-recording {args.nvml_recording}: {exc}") from None
    return d, discover_node(root, nvml=nvml)


def _definition_from_pod() -> ClusterDefinition | None:
    try:
        return definition_from_env(os.environ)
    except ValidationError as exc:
        raise UsageError(
            f"AIINFRA_DEFINITION is not a valid cluster definition: {exc.error_count()} error(s)"
        ) from None


def run_check(args: argparse.Namespace) -> int:
    d, inv = resolve(args)
    findings = check_node(inv, d, os.environ)
    if args.json:
        doc = {
            "ok": not failed(findings),
            "cluster": d.name if d else None,
            "findings": [f.to_dict() for f in findings],
            "node": inv.to_dict(),
        }
        print(json.dumps(doc, indent=2))
    else:
        print(render(d, inv, findings))
    return 1 if failed(findings) else 0


def render(d: ClusterDefinition | None, inv: NodeInventory, findings: list[Finding]) -> str:
    """The terminal report: node summary, data ports, findings, verdict."""
    lines = [_summary(d, inv)]
    for p in data_ports(d, inv):
        state = p.state
        port = f"{p.hca}:{p.port}"
        if state is None:
            lines.append(f"  {port:<10} missing")
            continue
        near = ",".join(str(g) for g in p.gpus) or "-"
        dists = sorted({dist.name for g in p.gpus if (dist := inv.distance(g, p.hca)) is not None})
        where = f"GPUs {near} ({'/'.join(dists)})" if dists else f"GPUs {near}"
        netdev = state.netdev or "-"
        lines.append(f"  {port:<10} {state.link_layer:<10} {state.state:<6} {state.rate_text:<22} {netdev:<12} {where}")
    for f in findings:
        lines.append(f"{f.severity:<8} {f.device}: {f.message}")
        if f.action:
            lines.append(f"{'':<8} -> {f.action}")
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    verdict = "FAILED" if errors else "ok"
    lines.append(f"{verdict}: {errors or 'no'} error{'s' if errors != 1 else ''}, {warnings} warning(s)")
    return "\n".join(lines)


def _summary(d: ClusterDefinition | None, inv: NodeInventory) -> str:
    names = sorted({g.name for g in inv.gpus})
    gpus = f"{len(inv.gpus)}x {', '.join(names)}" if inv.gpus else "GPUs unknown"
    s = inv.gpudirect
    gdr = ", ".join(n for n, ok in (("DMA-BUF", s.dmabuf_capable), ("nvidia_peermem", s.peermem_loaded)) if ok)
    cluster = f" [cluster {d.name}]" if d else " [no cluster definition]"
    return f"node: {gpus}, {len(inv.rdma)} RDMA devices, GPUDirect: {gdr or 'none'}{cluster}"
