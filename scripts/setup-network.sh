#!/usr/bin/env bash
# Step 1 of the quick start: configure this node's host network from the cluster definition.
#
#   bond0 = LAN0 + LAN1 (802.3ad) for management, Kubernetes and the pods' eth0;
#   LAN2-LAN5 = the InfiniBand rails (IPoIB, one subnet per rail), or the RoCE rails' netdevs.
#
# It shows the diff against /etc/netplan, backs /etc/netplan up, writes one file
# (60-aiinfra.yaml), runs `netplan generate` and `netplan apply`, and rolls back by itself
# unless the gateway and a peer node answer within the timeout (`netplan try` cannot:
# it refuses bonds with parameters). Then it verifies the bond (LACP aggregator and partner),
# the rail ports (ACTIVE/LinkUp at the rail's rate and width) and every MTU.
#
# Usage (as root, on the node; the node's name is `hostname -s` unless --node):
#   ./scripts/setup-network.sh [DEFINITION] [--node NAME] [--dry-run] [--timeout SECONDS]
#   ./scripts/setup-network.sh --plan rendered/gpu-01.plan.json [--dry-run]
# DEFINITION defaults to $AIINFRA_CLUSTER or clusters/a800-ib.yaml; the inventory is
# <definition>.nodes.yaml (or --inventory FILE). A plan rendered elsewhere
# (`aiinfra net render DEFINITION -o DIR`) needs only python3 and PyYAML on the node.
#
# Exit: 0 applied and verified (or dry run), 1 rolled back or a check failed, 2 bad input.
# Needs: bash, iproute2, netplan.io, ping, python3 with PyYAML (and pydantic without --plan).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fail() { echo "setup-network.sh: $*" >&2; exit 2; }

for tool in ip netplan ping python3; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (apt-get install iproute2 netplan.io iputils-ping python3-yaml)"
done
python3 -c 'import yaml' 2>/dev/null || fail "python3 has no PyYAML (apt-get install python3-yaml)"

source_given=false dry_run=false
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --plan) source_given=true; i=$((i + 1)) ;;
    --node | --timeout | --inventory | --root) i=$((i + 1)) ;;
    --dry-run) dry_run=true ;;
    -h | --help) ;;
    -*) ;;
    *) source_given=true ;;
  esac
done
if ! $source_given; then
  args=("${AIINFRA_CLUSTER:-$repo/clusters/a800-ib.yaml}" "${args[@]}")
fi
if ! $dry_run && [[ $EUID -ne 0 ]]; then
  fail "changing /etc/netplan needs root: run with sudo (or --dry-run to see the change)"
fi

export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
exec python3 -m aiinfra net apply "${args[@]}"
