"""The per-node sysfs/procfs trees of process-backed simulator nodes, read back by node discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiinfra.definition import load_definition
from aiinfra.nccl.node_env import as_dict, node_env
from aiinfra.node.discovery import discover_node
from aiinfra.node.gpu import NoNvml
from aiinfra.sim import write_process_node_tree
from aiinfra.sim.node_tree import rail_ipv4

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("cluster", ["a800-ib", "h100-ndr", "roce"])
def test_discovery_finds_every_rail_active(cluster: str, tmp_path: Path) -> None:
    d = load_definition(ROOT / "clusters" / f"{cluster}.yaml")
    inv = discover_node(write_process_node_tree(tmp_path, d, 0), nvml=NoNvml())
    for rail in d.rails:
        dev = inv.device(rail.hca)
        assert dev is not None, rail.hca
        p = dev.port(rail.port)
        assert p is not None and p.active and p.link_layer == rail.link_layer.value
    env = as_dict(node_env(d, inv))
    assert env["NCCL_IB_HCA"] == "=" + ",".join(f"{r.hca}:{r.port}" for r in d.rails)
    assert env["NCCL_SOCKET_IFNAME"] == "=eth0"


def test_roce_gid_carries_each_nodes_pod_address(tmp_path: Path) -> None:
    d = load_definition(ROOT / "clusters" / "roce.yaml")
    for index in (0, 1):
        inv = discover_node(write_process_node_tree(tmp_path, d, index), nvml=NoNvml())
        gid = inv.device("mlx5_1").port(1).roce_v2_ipv4_gid()  # type: ignore[union-attr]
        assert gid is not None and (gid.index, str(gid.ipv4)) == (3, rail_ipv4(d, 1, index))
        assert as_dict(node_env(d, inv))["NCCL_IB_GID_INDEX"] == "3"
    assert rail_ipv4(d, 1, 0) != rail_ipv4(d, 1, 1)


def test_bond_and_driver(tmp_path: Path) -> None:
    d = load_definition(ROOT / "clusters" / "a800-ib.yaml")
    root = write_process_node_tree(tmp_path, d, 0)
    assert "Bonding Mode: IEEE 802.3ad" in (root / "proc/net/bonding/bond0").read_text()
    assert discover_node(root, nvml=NoNvml()).gpudirect.peermem_loaded
    again = write_process_node_tree(tmp_path, d, 0)  # written once: a running pod may have it mounted
    assert again == root
