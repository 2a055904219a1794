"""Any bundled collective on the Ray cluster: ``aiinfra bench`` as a script with ``--collective``.

    ray job submit --working-dir . -- python benchmarks/nccl_collectives.py --collective all_gather,reduce_scatter \\
        --sizes 1M:4G --json results.json
    python benchmarks/nccl_collectives.py --collective all --local --sizes 1K:1M

--collective takes all_reduce, all_gather, reduce_scatter, alltoall, sendrecv, a comma list or 'all'
(default all); every other option is the CLI's (``aiinfra bench --help``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from aiinfra.cli import main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--collective", default="all")
    known, rest = parser.parse_known_args()
    sys.exit(main(["bench", known.collective, *rest]))
