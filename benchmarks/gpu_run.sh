#!/usr/bin/env bash
# The real GPU run recorded in benchmarks/results/: Ray carried as a trimmed install, the bundled
# benchmark through Ray actors (GPUs shared per node, then isolated), the same code as plain local
# processes, and the independent plain torch.distributed loop. NVLink multicast stays as the machine
# sets it (NCCL_NVLS_ENABLE=0). Every bench table holds nccl-tests' out-of-place and in-place columns
# (both measured by default; all_reduce in place only). Writes everything under $OUT (default ./out).
#   usage: [GPUS=n] [MIN=1M] [BIGMIN=1G] [OUT=dir] benchmarks/gpu_run.sh [MAX_SIZE] [COLLECTIVES]
set -uo pipefail
OUT=${OUT:-out}; MAX=${1:-8G}; COLLS=${2:-all_reduce,all_gather,reduce_scatter,alltoall,sendrecv}
MIN=${MIN:-1M}; BIGMIN=${BIGMIN:-1G}  # the sweep, and the large sizes the comparisons use
GPUS=${GPUS:-0}; G=(); [ "$GPUS" -gt 0 ] && G=(--gpus "$GPUS")  # 0: every GPU
mkdir -p "$OUT"
if [ -f .whl/raysite.tar.xz ] && ! python3 -c "import ray" 2>/dev/null; then
  tar -xJf .whl/raysite.tar.xz -C /tmp && export PYTHONPATH=/tmp/raysite:$PWD
fi
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:-$PWD}
{
  date -u; nvidia-smi --query-gpu=index,name,pci.bus_id,driver_version,clocks.sm --format=csv
  nvidia-smi topo -m | sed 's/\x1b\[[0-9;]*m//g'
  env | grep -E '^(NCCL_|NVSHMEM_|TORCH_SYMM)' | sort
  python3 -c "import ray, torch; print('ray', ray.__version__, 'torch', torch.__version__, 'nccl', torch.cuda.nccl.version())"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
echo "=== aiinfra bench through Ray (GPUs of a node shared, like Ray Train)"
python3 -m aiinfra bench "$COLLS" "${G[@]}" --sizes "$MIN:$MAX" --json "$OUT/bench-ray.json" --plot "$OUT/bench-ray.png" \
  --nccl-log "$OUT/nccl-ray.log"
echo "rc=$?"
echo "=== aiinfra bench through Ray, each worker sees only its GPU"
python3 -m aiinfra bench all_reduce,all_gather "${G[@]}" --isolate-gpus --sizes "$BIGMIN:$MAX" --json "$OUT/bench-ray-isolated.json"
echo "rc=$?"
echo "=== aiinfra bench --local (plain processes, same measuring code)"
python3 -m aiinfra bench all_reduce,all_gather "${G[@]}" --local --sizes "$BIGMIN:$MAX" --json "$OUT/bench-local.json"
echo "rc=$?"
echo "=== plain torch.distributed loop (benchmarks/torch_baseline.py)"
python3 benchmarks/torch_baseline.py --nprocs "$GPUS" --collectives all_reduce,all_gather,reduce_scatter,alltoall --sizes "$MIN:$MAX" \
  --json "$OUT/torch-baseline.json"
echo "rc=$?"
