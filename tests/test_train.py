"""aiinfra.train.fit: a real Ray Train run with 2 CPU workers (gloo) on a local 3-node cluster.

Node x sits under leaf 'b', nodes y and z under leaf 'a', one CPU each: the
two workers must land on leaf 'a' (the tightest leaf that holds both), get the
definition's NCCL environment before the process group starts, and train.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from ray.cluster_utils import Cluster

from aiinfra.errors import AiinfraError, UsageError
from aiinfra.train import fit, rank_map
from aiinfra.worker_versions import runtime_versions

# Ray is a hard dependency (imported, never skipped); torch comes with the [train] extra, which CI
# installs: a missing torch fails these tests unless they are deselected with -m "not torch".
pytestmark = [pytest.mark.ray, pytest.mark.torch]

ROOT = Path(__file__).resolve().parent.parent
LEAF = "network.topology.nvidia.com/leaf"  # the leaf label of clusters/a800-ib.yaml
MB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # Workers cannot import this test module: ship its functions by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 100 * MB})
    try:
        for leaf in "baa":
            c.add_node(num_cpus=1, object_store_memory=100 * MB, labels={LEAF: leaf})
        ray.init(address=c.address, logging_level="WARNING")
        c.wait_for_nodes()
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def _train_loop(config: dict[str, Any]) -> None:
    import torch
    import torch.distributed as dist
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel

    from aiinfra.train import report, world_info

    info = world_info()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    x, y = x[info.rank :: info.world_size], y[info.rank :: info.world_size]
    torch.manual_seed(0)
    model = DistributedDataParallel(nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(config["epochs"]):
        for i in range(0, len(x), 32):
            loss = nn.functional.mse_loss(model(x[i : i + 32]), y[i : i + 32])
            opt.zero_grad()
            loss.backward()
            opt.step()
        total = torch.tensor([float(nn.functional.mse_loss(model(x), y))])
        dist.all_reduce(total)
        losses.append(float(total) / info.world_size)
    seen = {k: os.environ.get(k) for k in ("NCCL_IB_QPS_PER_CONNECTION", "NCCL_SOCKET_IFNAME", "AIINFRA_MARK")}
    report({"losses": losses, "env": seen, "rank": info.rank, "leaf": info.leaf, "node": info.node_id,
            "torch_rank": dist.get_rank(), "backend": info.backend})  # fmt: skip


def test_fit_trains_on_the_chosen_leaf_with_the_nccl_env(cluster: Cluster, tmp_path: Path) -> None:
    handler = signal.getsignal(signal.SIGINT)
    result = fit(
        _train_loop, workers=2, cluster_def=ROOT / "clusters" / "a800-ib.yaml", config={"epochs": 6},
        env={"AIINFRA_MARK": "yes"}, storage_path=str(tmp_path), name="aiinfra-test",
    )  # fmt: skip
    m = result.metrics
    assert m["losses"][-1] < m["losses"][0] / 10, m["losses"]
    assert result.backend == "gloo" and m["backend"] == "gloo"
    # The definition's nccl.env override and the user's env reached the worker before training.
    assert m["env"] == {"NCCL_IB_QPS_PER_CONNECTION": "2", "NCCL_SOCKET_IFNAME": "=eth0", "AIINFRA_MARK": "yes"}
    ranks = result.rank_map
    assert sorted(ranks) == [0, 1] and {s.leaf for s in ranks.values()} == {"a"}
    assert len({s.node_id for s in ranks.values()}) == 2  # one CPU per node: two nodes of leaf a
    assert m["node"] == ranks[0].node_id and m["leaf"] == "a" and m["torch_rank"] == 0
    assert result.leaves["domains_used"] == 1 and result.leaves["ring_crossings"] == 0
    assert all(env["NCCL_IB_QPS_PER_CONNECTION"] == "2" for env in result.nccl_env.values())
    assert "rank 0: node" in result.describe()
    # Every worker reported what it runs (this machine's Python, Ray and torch) before the group started.
    assert set(result.versions) == {s.node_id for s in ranks.values()}
    mine = runtime_versions()
    assert all(v["ray"] == ray.__version__ and v["torch"] == mine["torch"] for v in result.versions.values())
    # Ctrl-C is the caller's again: Ray Train's handler, bound to the finished run, is not left behind.
    assert signal.getsignal(signal.SIGINT) is handler


def test_fit_fails_early_when_the_cluster_cannot_fit(cluster: Cluster, tmp_path: Path) -> None:
    with pytest.raises(AiinfraError, match=r"never fit 5 CPUs.*3 CPUs in all"):
        fit(_train_loop, workers=5, storage_path=str(tmp_path))
    with pytest.raises(UsageError, match="one worker per GPU"):
        fit(_train_loop, gpus=2, workers=3)
    with pytest.raises(UsageError, match="rank_order"):
        fit(_train_loop, workers=2, rank_order="random")


def test_rank_map_is_empty_outside_a_worker() -> None:
    assert rank_map() == {}


def test_bench_and_train_workers_get_the_same_nccl_environment(cluster: Cluster, tmp_path: Path) -> None:
    """The benchmark measures what training gets: on the same nodes, with the same definition,
    a bench worker and a train worker see the same NCCL_* variables (one function prepares both)."""
    from aiinfra.bench.runner import BenchConfig, run_ray
    from aiinfra.bench.spec import MeasureSpec
    from aiinfra.definition import load_definition

    definition = load_definition(ROOT / "clusters" / "a800-ib.yaml")
    trained = fit(_train_loop, workers=2, cluster_def=definition, config={"epochs": 1},
                  storage_path=str(tmp_path), name="aiinfra-env-test")  # fmt: skip
    spec = MeasureSpec(("all_reduce",), (4096,), iters=2, warmup=1)
    bench = run_ray(BenchConfig(spec, mode="job", gpus=2, backend="gloo", definition=definition,
                                nccl_log=False, timeout_s=120))  # fmt: skip
    train_env = {k: v for env in trained.nccl_env.values() for k, v in env.items() if k.startswith("NCCL_")}
    bench_env = {k: v for k, v in bench.environment["nccl_env"].items() if k != "NCCL_DEBUG_SUBSYS"}
    assert train_env and "NCCL_IB_HCA" in train_env  # the definition's rails, refined on the node
    assert bench_env == train_env
