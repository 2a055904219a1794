"""A plain Ray script (no aiinfra import): print the NCCL environment one GPU task sees on each worker node.

Submitted with ``ray job submit`` semantics by test_20_node_env.py; prints one JSON line
``NCCL_ENV {node_name: {NAME: value}}``.
"""

from __future__ import annotations

import json
import os

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


@ray.remote(num_gpus=1, num_cpus=0)
def nccl_env() -> tuple[str, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k.startswith("NCCL_")}
    return os.environ.get("AIINFRA_NODE_NAME", "?"), env


def main() -> None:
    ray.init()
    workers = [n for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU", 0) > 0]
    refs = [
        nccl_env.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
        for n in workers
    ]
    print("NCCL_ENV " + json.dumps(dict(ray.get(refs)), sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
