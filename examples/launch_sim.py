"""A RayCluster on a simulated 4-node A800 cluster (`make demo-k8s`).

Brings up the simulated control plane (etcd, kube-apiserver, scheduler,
controller-manager, KWOK, the KubeRay operator) with fake A800 nodes that
advertise GPUs and InfiniBand rails, launches a 2-worker RayCluster with
aiinfra.launch(), prints its status and the pod placement, then tears both down
(pass --keep to leave them running; `aiinfra sim down` stops the simulator).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import aiinfra
from aiinfra import sim
from aiinfra.launch.progress import ConsoleProgress

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cluster", default=str(ROOT / "clusters" / "a800-ib.yaml"))
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="leave the RayCluster and the simulator running")
    args = parser.parse_args()

    try:
        simulated = sim.up(args.cluster, nodes=args.nodes)
        os.environ["KUBECONFIG"] = str(simulated.kubeconfig)
        print(f"simulated cluster up: {args.nodes} nodes, KUBECONFIG={simulated.kubeconfig}")
        cluster = aiinfra.launch(args.cluster, workers=args.workers, name="demo", progress=ConsoleProgress())
    except aiinfra.AiinfraError as exc:
        print(f"demo-k8s: {exc}", file=sys.stderr)
        return exc.exit_code
    status = cluster.status()
    print(f"{status.name}: {status.state}, {status.workers_joined}/{status.workers_wanted} workers ready")
    for node in status.nodes:
        print(f"  {node.role:6} {node.name:36} {node.state:8} gpus={node.gpus:g} on {node.detail}")
    if not args.keep:
        cluster.down()
        sim.down()
        print("RayCluster deleted, simulator stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
