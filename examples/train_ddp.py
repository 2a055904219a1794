"""PyTorch DDP through aiinfra.train.fit: a tiny MLP on synthetic regression data.

Gloo on CPU workers, NCCL on GPU workers (``--device auto`` picks GPUs when the
cluster has enough). Each epoch prints the all-reduced training loss; the end
prints the rank -> node map aiinfra chose. A few hundred steps: seconds on a CPU.

    ray job submit --working-dir . -- python examples/train_ddp.py --workers 2
    python examples/train_ddp.py --workers 2 --cluster-def clusters/h100-ndr.yaml --device gpu
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

try:
    import aiinfra  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
import torch.distributed as dist
from torch import nn
from toy_regression import device_of, distributed, mlp, shard, start_ray  # the sibling examples/toy_regression.py

from aiinfra.train import fit, report, world_info


def train_loop(config: dict[str, Any]) -> None:
    info = world_info()
    device = device_of(info)
    ddp = distributed(mlp(device), device)
    opt = torch.optim.Adam(ddp.parameters(), lr=config["lr"])
    x, y = shard(config["samples"], info, device)  # each rank trains on its own shard
    batch, losses = config["batch"], []
    for epoch in range(config["epochs"]):
        total = torch.zeros(2, device=device)
        for start in range(0, len(x), batch):
            xb, yb = x[start : start + batch], y[start : start + batch]
            loss = nn.functional.mse_loss(ddp(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += torch.stack([loss.detach() * len(xb), torch.tensor(float(len(xb)), device=device)])
        dist.all_reduce(total)  # the epoch's mean loss over every rank's samples
        losses.append(float(total[0] / total[1]))
        if info.rank == 0:
            print(f"epoch {epoch + 1}/{config['epochs']}: loss {losses[-1]:.4f}", flush=True)
        if epoch + 1 == config["epochs"]:
            # Once, at the end: each Ray Train V2 report waits for the controller's poll (about 2 s).
            report({"epoch": epoch + 1, "loss": losses[-1], "losses": list(losses)})
    if info.rank == 0:
        print(f"rank 0 on node {info.node_id[:12]} ({info.ip}), leaf {info.leaf}, {device}, {info.backend}, "
              f"world {info.world_size}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--cluster-def", default=None, help="cluster definition (default: the one the pod carries)")
    parser.add_argument("--storage-path", default=None, help="Ray Train run storage (default ~/ray_results)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    use_gpu = start_ray(args.workers, args.device)
    config = {"epochs": args.epochs, "samples": args.samples, "batch": args.batch, "lr": args.lr}
    result = fit(
        train_loop,
        gpus=args.workers if use_gpu else 0,
        workers=args.workers,
        cluster_def=args.cluster_def,
        config=config,
        storage_path=args.storage_path,
    )
    losses = result.metrics.get("losses", [])
    print(f"backend {result.backend}: loss {losses[0]:.4f} -> {losses[-1]:.4f} over {len(losses)} epochs")
    print(result.describe())
    return 0 if losses and losses[-1] < losses[0] else 1


if __name__ == "__main__":
    sys.exit(main())
