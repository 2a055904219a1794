"""aiinfra.train.fit over every (fake) GPU of the cluster with a one-step loop; print the rank map as JSON.

Submitted by test_20_node_env.py; prints ``RANK_MAP {...}`` with rank -> ip and leaf, the leaves and
the NCCL environment the training workers got.
"""

from __future__ import annotations

import json
import sys

import ray
import torch
import torch.distributed as dist

from aiinfra.train import fit, report, world_info


def loop(config: dict) -> None:
    world_info()
    total = torch.ones(1)
    dist.all_reduce(total)  # the process group really spans every rank
    report({"world": int(total.item())})  # on every rank, as Ray Train expects


def main() -> int:
    ray.init()
    gpus = int(sys.argv[1])
    result = fit(loop, gpus=gpus)
    out = {
        "backend": result.backend,
        "world": result.metrics.get("world"),
        "ranks": {r: {"ip": s.ip, "leaf": s.leaf} for r, s in sorted(result.rank_map.items())},
        "nccl_env": result.nccl_env,
    }
    print("RANK_MAP " + json.dumps(out, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
