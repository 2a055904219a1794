"""aiinfra.train's checkpoint storage, without a cluster: where it comes from, and the multi-node refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiinfra.definition import load_definition
from aiinfra.errors import UsageError
from aiinfra.placement.plan import NodeInfo, plan
from aiinfra.train import trainer
from aiinfra.train.trainer import checkpoint_storage

ROOT = Path(__file__).resolve().parent.parent
A800 = load_definition(ROOT / "clusters" / "a800-ib.yaml")
NO_STORAGE = A800.model_copy(update={"ray": A800.ray.model_copy(update={"storage": None})})  # type: ignore[union-attr]


def gpu_nodes(*ips: str) -> list[NodeInfo]:
    return [NodeInfo(f"node{i}", ip=ip, resources={"GPU": 8, "CPU": 96}) for i, ip in enumerate(ips)]


def test_a_multi_node_fit_without_shared_storage_is_refused_before_ray_train_starts(monkeypatch) -> None:
    monkeypatch.delenv("AIINFRA_STORAGE_PATH", raising=False)
    monkeypatch.setattr(trainer, "nodes_from_ray", lambda: gpu_nodes("10.0.0.1", "10.0.0.2"))
    with pytest.raises(UsageError) as info:
        trainer.fit(lambda config: None, gpus=16, cluster_def=NO_STORAGE)
    message = str(info.value)
    assert "multi-node training (2 machines: 10.0.0.1, 10.0.0.2)" in message
    assert f"set ray.storage in {A800.source}" in message and "storage_path=" in message


def test_storage_comes_from_the_argument_the_pod_env_or_the_definition() -> None:
    two = plan(gpu_nodes("10.0.0.1", "10.0.0.2"), 16)
    assert checkpoint_storage(None, {}, A800, two) == "/mnt/ray-storage"  # the declared NFS mount
    assert checkpoint_storage(None, {"AIINFRA_STORAGE_PATH": "s3://b/p"}, NO_STORAGE, two) == "s3://b/p"
    assert checkpoint_storage("gs://mine/runs", {"AIINFRA_STORAGE_PATH": "/x"}, A800, two) == "gs://mine/runs"
    with pytest.raises(UsageError, match=r"set ray\.storage in the cluster definition"):
        checkpoint_storage(None, {}, None, two)


def test_one_machine_needs_no_shared_storage() -> None:
    # One node, or the local default's Ray nodes, which are processes of one machine (one address).
    assert checkpoint_storage(None, {}, NO_STORAGE, plan(gpu_nodes("10.0.0.1", "10.0.0.2"), 8)) is None
    local = [NodeInfo(f"n{i}", ip="127.0.0.1", resources={"CPU": 1}) for i in range(2)]
    assert checkpoint_storage(None, {}, None, plan(local, 2, resource="CPU")) is None
