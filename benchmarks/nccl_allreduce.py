"""all_reduce busbw sweep on the Ray cluster: ``aiinfra bench all_reduce`` as a script.

Runnable where Ray jobs run, with the same options as the CLI:

    ray job submit --working-dir . -- python benchmarks/nccl_allreduce.py --sizes 1M:8G --mode intra \\
        --cluster clusters/h100-ndr.yaml --json results.json --plot busbw.png
    python benchmarks/nccl_allreduce.py --local --sizes 1K:1M      # no Ray, CPU (gloo) or this machine's GPUs

Exit code 0 when every verdict passed, 1 when one failed, 2 on bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python benchmarks/x.py` puts benchmarks/ first on sys.path, not the checkout; aiinfra may not be installed.
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from aiinfra.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "all_reduce", *sys.argv[1:]]))
