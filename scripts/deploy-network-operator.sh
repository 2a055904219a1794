#!/usr/bin/env bash
# Deploy the NVIDIA Network Operator and GPU Operator for a cluster definition:
# CRDs, both Helm charts (pinned in aiinfra/upstream.py), the NicClusterPolicy,
# one IPPool and one network per rail; then wait until every GPU node
# advertises its rail resources. Run from a machine with kubectl access.
#
#   scripts/deploy-network-operator.sh clusters/a800-ib.yaml --dry-run
#   scripts/deploy-network-operator.sh clusters/a800-ib.yaml --registry mirror.local:5000 --pull-secret regcred
#   scripts/deploy-network-operator.sh clusters/a800-ib.yaml --undeploy
#
# Every other flag goes to `aiinfra net deploy` (see `python3 -m aiinfra net deploy --help`).
set -euo pipefail
if [ $# -lt 1 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
command="deploy"
args=()
for arg in "$@"; do
  if [ "$arg" = "--undeploy" ]; then command="undeploy"; else args+=("$arg"); fi
done
exec python3 -m aiinfra net "$command" "${args[@]}"
