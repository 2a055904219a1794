"""launch -> submit -> logs -> down, as a notebook would do it.

Runs on the embedded default (clusters/local.yaml: a local multi-node Ray
cluster); pass another definition to run the same steps on Kubernetes:

    python examples/launch_local.py                       # local Ray, 2 workers
    python examples/launch_local.py clusters/a800-ib.yaml --workers 4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import aiinfra
from aiinfra.launch.progress import ConsoleProgress

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cluster", nargs="?", default=str(ROOT / "clusters" / "local.yaml"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--name", default="demo")
    args = parser.parse_args()

    try:
        cluster = aiinfra.launch(args.cluster, workers=args.workers, name=args.name, progress=ConsoleProgress())
    except aiinfra.AiinfraError as exc:
        print(f"launch failed: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"dashboard: {cluster.dashboard_url}")
    try:
        job = cluster.submit(
            f"python examples/train_ddp.py --workers {args.workers} --epochs 5",
            working_dir=str(ROOT),
            runtime_env={"excludes": [".cache", ".git", "benchmarks/results"]},
        )
        print(f"job {job.id} submitted")
        for line in job.logs(follow=True):
            print(line)
        state = job.wait()
        print(f"job {job.id}: {state}")
    finally:
        cluster.down()
        print(f"{cluster.name}: down")
    return 0 if state == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
