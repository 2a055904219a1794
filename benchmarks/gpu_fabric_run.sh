#!/usr/bin/env bash
# Level 3 of the fabric test through NCCL (`aiinfra net test --nccl`) on the GPU machine, recorded in
# benchmarks/results/<machine>-<date>-fabric-nccl*. The machine has 2 GPUs on one host and no RDMA device, so
# its Ray "nodes" are raylets on one host, each given GPUs by CUDA_VISIBLE_DEVICES:
#   A  one Ray node with both GPUs: no pair between nodes; NVLink inside the node measured and judged;
#   B  two Ray nodes of one GPU each, NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1: NCCL must go through its network
#      and, with no HCA, falls back to NET/Socket: the test must name the socket fallback per node and rail;
#   C  the same two nodes with NCCL's defaults: NCCL joins the two GPUs of the one host by P2P, no finding.
# The definition is clusters/a800-ib.yaml with this machine's GPUs (H200, NVLink 450 GB/s) and one rail on GPU 0.
#   usage: [OUT=dir] benchmarks/gpu_fabric_run.sh
set -uo pipefail
OUT=${OUT:-out}; mkdir -p "$OUT"
if [ -f .whl/raysite.tar.xz ] && ! python3 -c "import ray" 2>/dev/null; then
  tar -xJf .whl/raysite.tar.xz -C /tmp && export PYTHONPATH=/tmp/raysite:$PWD
fi
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:-$PWD} RAY_USAGE_STATS_ENABLED=0
RAY=(python3 -m ray.scripts.scripts); HEAD=127.0.0.1:6390
DEF=$OUT/fabric-h200.yaml
python3 - "$DEF" <<'PY'
import sys, yaml
d = yaml.safe_load(open("clusters/a800-ib.yaml"))
d["name"] = "h200-one-rail"
d["gpu"].update(model="H200", product="NVIDIA-H200", per_node=2, memory_gib=141, nvlink_gb_s=450)
d["gpu"]["ray_accelerator_type"] = "H200"
d["rails"] = [dict(d["rails"][0], hca="mlx5_0", gpus=[0])]
d["ray"]["workers"]["gpus"] = 2
yaml.safe_dump(d, open(sys.argv[1], "w"), sort_keys=False)
PY
python3 -m aiinfra validate "$DEF" || exit 2
start() {  # start GPUS [EXTRA_ENV...]: the head (first call) or one more node on this host
  local gpus=$1; shift
  local count=$(( $(tr -cd , <<<"$gpus" | wc -c) + 1 ))
  local where=(--head --port=6390 --include-dashboard=false); "${RAY[@]}" status --address=$HEAD >/dev/null 2>&1 \
    && where=(--address=$HEAD)
  env CUDA_VISIBLE_DEVICES="$gpus" "$@" "${RAY[@]}" start "${where[@]}" --num-gpus="$count" --num-cpus=4 \
    --node-ip-address=127.0.0.1 --dashboard-agent-listen-port=$((52400 + RANDOM % 500)) --disable-usage-stats >/dev/null
}
run() {  # run NAME: the test, its report files and exit code
  echo "=== $1"; nvidia-smi --query-gpu=index,name,pci.bus_id --format=csv,noheader
  local more=(); [ "$1" = B-two-nodes-socket ] && more=(--html "$OUT/fabric-nccl-$1.html" --metrics "$OUT/fabric-nccl-$1.prom")
  python3 -m aiinfra net test --cluster "$DEF" --ray "$HEAD" --levels 3 --nccl --json "$OUT/fabric-nccl-$1.json" "${more[@]}"
  echo "rc=$?"; "${RAY[@]}" stop --force >/dev/null 2>&1; sleep 2
}
start 0,1; run A-one-node-nvlink
start 0 NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1; start 1 NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1; run B-two-nodes-socket
start 0; start 1; run C-two-nodes-defaults
