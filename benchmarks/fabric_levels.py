"""Wall time of the full three-level fabric test on the simulator: ``aiinfra net test --cluster ... --simulate N``.

Starts its own simulated cluster with N KWOK GPU nodes (default 64) from clusters/a800-ib.yaml, plays the
network operator's part (:mod:`aiinfra.sim.network_operator`), then times

- level 1 alone (control plane read from the API server, per node and rail),
- level 2 alone (one node-check Job per node; on KWOK nodes Jobs run nothing, so this times the listing
  and the not-checked report only),
- level 3 alone (localisation on a simulated N-node fabric, slow_rail scenario),
- the whole CLI run with all three levels and the JSON + HTML report.

Needs the simulator tools (make k8s-tools) and AIINFRA_UPSTREAM_MIRROR (the current CRDs).

Usage:
    AIINFRA_UPSTREAM_MIRROR=../shared/vendor python benchmarks/fabric_levels.py --nodes 64
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFINITION = ROOT / "clusters" / "a800-ib.yaml"


def _timed(label: str, fn: object, *args: object) -> object:
    start = time.perf_counter()
    out = fn(*args)  # type: ignore[operator]
    print(f"{label:<44} {time.perf_counter() - start:8.2f} s")
    return out


def _cli(argv: list[str]) -> int:
    from aiinfra.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        return main(argv)


def _up(sim: object, nodes: int, state: Path) -> object:
    """sim.up, tried up to 3 times: on a loaded machine the API server can time out installing large CRDs."""
    for attempt in range(3):
        try:
            return sim.up(DEFINITION, nodes, state)  # type: ignore[attr-defined]
        except Exception as exc:  # reported and retried; the last one is raised
            print(f"  sim up failed ({str(exc)[:120]}); attempt {attempt + 1} of 3")
            sim.down(state)  # type: ignore[attr-defined]
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=64)
    p.add_argument("--keep", metavar="DIR", help="state dir to use and leave running")
    args = p.parse_args()
    if not os.environ.get("AIINFRA_UPSTREAM_MIRROR"):
        raise SystemExit("set AIINFRA_UPSTREAM_MIRROR (e.g. ../shared/vendor): the current CRDs are needed")

    from aiinfra import sim
    from aiinfra.definition import load_definition
    from aiinfra.k8s.client import Kube
    from aiinfra.net.fabric.control_plane import control_plane_findings
    from aiinfra.net.fabric.control_plane_read import read_control_plane
    from aiinfra.net.fabric.node_level import run_node_checks
    from aiinfra.sim.network_operator import play_network_operator

    d = load_definition(DEFINITION)
    state = Path(args.keep or tempfile.mkdtemp(prefix="fabric-levels-"))
    print(f"{args.nodes} KWOK nodes x {len(d.rails)} rails ({DEFINITION.name})")
    try:
        cluster = _timed("sim up", _up, sim, args.nodes, state)
        os.environ["KUBECONFIG"] = str(cluster.kubeconfig)  # type: ignore[attr-defined]
        kube = Kube()
        _timed("play the network operator", play_network_operator, kube, d)
        snap = _timed("level 1: read the control plane", read_control_plane, kube, d)
        found = control_plane_findings(d, snap)  # type: ignore[arg-type]
        print(f"  {len(snap.nodes)} GPU nodes, {len(found)} finding(s)")  # type: ignore[attr-defined]
        node = _timed("level 2: node checks (KWOK: nothing runs)", run_node_checks, kube, d, "default", 30.0)
        print(f"  {len(node.not_checked)} node(s) not checked")  # type: ignore[attr-defined]
        sim_args = ["--simulate", str(args.nodes), "--rails", str(len(d.rails)), "--scenario", "slow_rail"]
        _timed("level 3: simulated data plane", _cli, ["net", "test", "--levels", "3", *sim_args])
        out = state / "report"
        code = _timed("all three levels (CLI, JSON + HTML)", _cli,
                      ["net", "test", "--cluster", str(DEFINITION), *sim_args,
                       "--json", str(out / "fabric.json"), "--html", str(out / "fabric.html")])
        print(f"  exit {code} (1: the injected slow rail found)")
    finally:
        if not args.keep:
            sim.down(state)


if __name__ == "__main__":
    main()
