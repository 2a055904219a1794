#!/usr/bin/env bash
# Print the path of every CRD YAML the simulated cluster installs, read from
# the Go module cache at its real place inside each operator's module. The
# module versions are the ones pinned in aiinfra/sim/crd_modules/go.mod (package data); the file list
# is aiinfra/sim/tools.py CRD_FILES (one source of truth, used by `sim up`).
#   tests/k8s/crds.sh            # paths, one a line
#   tests/k8s/crds.sh --modules  # module@version -> module cache dir
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."
if [ "${1:-}" = "--modules" ]; then
  exec python3 -c '
from aiinfra.sim.tools import pinned_modules, module_dir
for m, v in pinned_modules().items():
    print(f"{m}@{v}\t{module_dir(m, v)}")'
fi
exec python3 -c '
from aiinfra.sim.tools import crd_files
for f in crd_files():
    print(f)'
