#!/usr/bin/env bash
# The fabric acceptance test: `aiinfra net test` with the arguments given.
# Exit 0 pass, 1 findings (slow node, rail or link), 2 bad input.
#   scripts/test-network.sh --simulate 128 --scenario slow_rail --html out/fabric.html
#   sudo scripts/test-network.sh --netns --nodes 8 --rails 2
#   scripts/test-network.sh --cluster clusters/a800-ib.yaml --levels 1,2 --taint   # control plane + node checks
#   scripts/test-network.sh --ray auto --levels 3 --line-gbps 100                 # data plane between Ray GPU nodes
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 -m aiinfra net test "$@"
