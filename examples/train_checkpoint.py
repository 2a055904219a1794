"""Fault-tolerant training through aiinfra.train.fit: a checkpoint every epoch, resumed after a failure.

Each epoch ends with a checkpoint (model, optimizer, epoch) reported to Ray Train. When a worker or its
node dies, Ray Train restarts the worker group (up to ``--max-failures`` times) and every worker
starts from the last checkpoint; rank 0 prints which one. On a cluster of several machines the
checkpoints go to the definition's shared ``ray.storage`` (fit refuses a multi-node run without it).

    ray job submit --working-dir . -- python examples/train_checkpoint.py --workers 2 --strategy STRICT_SPREAD
    python examples/train_checkpoint.py --workers 2 --fail-at-epoch 2   # local: one simulated failure
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    import aiinfra  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ray.train
import torch
import torch.distributed as dist
from torch import nn
from toy_regression import device_of, distributed, mlp, shard, start_ray  # the sibling examples/toy_regression.py

from aiinfra.train import fit, report, world_info


def resume(model: nn.Module, opt: torch.optim.Optimizer, rank: int) -> int:
    """Load the last checkpoint Ray Train has for this run, if any; the epoch to start from."""
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        return 0
    with checkpoint.as_directory() as folder:
        state = torch.load(Path(folder) / "state.pt", weights_only=True)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    if rank == 0:
        print(f"resumed from checkpoint {checkpoint.path} (epoch {state['epoch']})", flush=True)
    return int(state["epoch"])


def train_loop(config: dict[str, Any]) -> None:
    info = world_info()
    device = device_of(info)
    model = mlp(device)
    opt = torch.optim.SGD(model.parameters(), lr=config["lr"])
    start = resume(model, opt, info.rank)
    ddp = distributed(model, device)
    x, y = shard(512 * info.world_size, info, device)  # full batch: 512 samples per rank
    for epoch in range(start, config["epochs"]):
        loss = nn.functional.mse_loss(ddp(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        mean = loss.detach().clone()
        dist.all_reduce(mean)
        mean /= info.world_size
        time.sleep(config["epoch_seconds"])  # stands in for a real epoch's work
        if epoch + 1 == config["fail_at_epoch"] and start == 0 and info.rank == 0:
            raise RuntimeError(f"simulated failure in epoch {epoch + 1} (--fail-at-epoch)")
        with tempfile.TemporaryDirectory() as folder:
            checkpoint = None
            if info.rank == 0:  # one copy: the model is the same on every rank
                state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch + 1}
                torch.save(state, Path(folder) / "state.pt")
                checkpoint = ray.train.Checkpoint.from_directory(folder)
            report({"epoch": epoch + 1, "loss": float(mean)}, checkpoint=checkpoint)
        if info.rank == 0:
            print(f"epoch {epoch + 1}/{config['epochs']}: loss {float(mean):.4f}, checkpoint saved", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--epoch-seconds", type=float, default=0.0, help="sleep per epoch (time to fail mid-run)")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--max-failures", type=int, default=3, help="worker group restarts Ray Train may make")
    parser.add_argument("--fail-at-epoch", type=int, default=0, help="rank 0 fails once in this epoch (0: never)")
    parser.add_argument("--strategy", default="PACK", help="PACK, SPREAD or STRICT_SPREAD (one worker per node)")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--storage-path", default=None, help="default: the cluster's ray.storage, else local")
    parser.add_argument("--name", default=None, help="run name (a run of the same name resumes its checkpoints)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    use_gpu = start_ray(args.workers, args.device)
    config = {"epochs": args.epochs, "lr": args.lr, "epoch_seconds": args.epoch_seconds,
              "fail_at_epoch": args.fail_at_epoch}  # fmt: skip
    result = fit(
        train_loop,
        gpus=args.workers if use_gpu else 0,
        workers=args.workers,
        config=config,
        strategy=args.strategy,
        storage_path=args.storage_path,
        name=args.name,
        max_failures=args.max_failures,
    )
    if result.result.error is not None:
        print(f"training failed: {result.result.error}")
        return 1
    last = result.result.checkpoint
    print(f"done: epoch {result.metrics.get('epoch')}, last checkpoint {last.path if last else None}")
    return 0 if result.metrics.get("epoch") == args.epochs else 1


if __name__ == "__main__":
    sys.exit(main())
