"""The node's NCCL environment (aiinfra.nccl.node_env) and ``aiinfra nccl env``."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from aiinfra.cli import main
from aiinfra.definition.loader import load_definition
from aiinfra.definition.model import ClusterDefinition, GpuDirect
from aiinfra.nccl.node_env import apply_env, as_dict, node_env
from aiinfra.node.data_ports import data_ports
from aiinfra.node.discovery import NodeInventory, discover_node
from aiinfra.node.gpu import RecordedNvml

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SYSFS = FIXTURES / "sysfs"
NVML = {"a800-ib": "a800-8gpu", "a800-ib-degraded": "a800-8gpu", "roce-h100": "h100-8gpu", "h200-vm": "2xh200"}


def recorded(machine: str) -> RecordedNvml:
    return RecordedNvml(json.loads((FIXTURES / "nvml" / f"{NVML[machine]}.json").read_text()))


def node(machine: str, root: Path | None = None) -> NodeInventory:
    return discover_node(root or SYSFS / machine, nvml=recorded(machine))


def cluster(name: str) -> ClusterDefinition:
    return load_definition(ROOT / "clusters" / f"{name}.yaml")


def test_healthy_ib_node_lists_every_rail_exactly() -> None:
    env = as_dict(node_env(cluster("a800-ib"), node("a800-ib")))
    assert env["NCCL_IB_HCA"] == "=mlx5_2:1,mlx5_3:1,mlx5_4:1,mlx5_5:1"
    assert env["NCCL_SOCKET_IFNAME"] == "=eth0"
    # peermem loaded, proprietary driver: no DMA-BUF
    assert env["NCCL_DMABUF_ENABLE"] == "0"
    assert env["NCCL_NET_GDR_LEVEL"] == "PXB"
    assert "NCCL_IB_GID_INDEX" not in env
    # the definition's override comes last
    assert list(env)[-1] == "NCCL_IB_QPS_PER_CONNECTION" and env["NCCL_IB_QPS_PER_CONNECTION"] == "2"


def test_down_port_is_left_out_and_said_so() -> None:
    settings = {s.name: s for s in node_env(cluster("a800-ib"), node("a800-ib-degraded"))}
    hca = settings["NCCL_IB_HCA"]
    assert hca.value == "=mlx5_2:1,mlx5_4:1,mlx5_5:1"
    assert "mlx5_3:1" in hca.why


def test_all_ports_down_keeps_the_rails(tmp_path: Path) -> None:
    root = _copy("a800-ib", tmp_path)
    for hca in ("mlx5_2", "mlx5_3", "mlx5_4", "mlx5_5"):
        (root / f"sys/class/infiniband/{hca}/ports/1/state").write_text("1: DOWN\n")
    hca = {s.name: s for s in node_env(cluster("a800-ib"), node("a800-ib", root))}["NCCL_IB_HCA"]
    assert hca.value == "=mlx5_2:1,mlx5_3:1,mlx5_4:1,mlx5_5:1" and "no data port is ACTIVE" in hca.why


def test_roce_pins_the_v2_ipv4_gid_index() -> None:
    env = as_dict(node_env(cluster("roce"), node("roce-h100")))
    assert env["NCCL_IB_GID_INDEX"] == "3"
    # a pinned index replaces the declared auto-selection
    assert "NCCL_IB_ADDR_FAMILY" not in env and "NCCL_IB_ROCE_VERSION_NUM" not in env
    assert env["NCCL_DMABUF_ENABLE"] == "1"
    assert env["NCCL_IB_TC"] == "106"


def test_roce_indexes_that_differ_leave_the_choice_to_nccl(tmp_path: Path) -> None:
    root = _copy("roce-h100", tmp_path)
    port = root / "sys/class/infiniband/mlx5_2/ports/1"
    # an extra IPv6 global entry pushes mlx5_2's IPv4 v2 entry to index 5
    for i, (gid, kind) in enumerate(
        [
            ("2001:0db8:0000:0002:a288:c2ff:fe3d:0012", "IB/RoCE v1"),
            ("2001:0db8:0000:0002:a288:c2ff:fe3d:0012", "RoCE v2"),
            ("0000:0000:0000:0000:0000:ffff:0a02:000b", "IB/RoCE v1"),
            ("0000:0000:0000:0000:0000:ffff:0a02:000b", "RoCE v2"),
        ],
        start=2,
    ):
        (port / f"gids/{i}").write_text(gid + "\n")
        (port / f"gid_attrs/types/{i}").write_text(kind + "\n")
        (port / f"gid_attrs/ndevs/{i}").write_text("enp159s0np0\n")
    settings = {s.name: s for s in node_env(cluster("roce"), node("roce-h100", root))}
    assert "NCCL_IB_GID_INDEX" not in settings
    assert settings["NCCL_IB_ADDR_FAMILY"].value == "AF_INET"
    assert "mlx5_2: 5" in settings["NCCL_IB_ADDR_FAMILY"].why
    assert settings["NCCL_IB_ROCE_VERSION_NUM"].value == "2"


def test_explicit_gid_index_from_the_definition() -> None:
    d = cluster("roce")
    d = d.model_copy(update={"network": d.network.model_copy(update={"gid_index": 7})})
    assert as_dict(node_env(d, node("roce-h100")))["NCCL_IB_GID_INDEX"] == "7"


def test_no_gpudirect_stages_through_host(tmp_path: Path) -> None:
    root = _copy("a800-ib", tmp_path)
    shutil.rmtree(root / "sys/module/nvidia_peermem")
    env = as_dict(node_env(cluster("a800-ib"), node("a800-ib", root)))
    assert env["NCCL_NET_GDR_LEVEL"] == "LOC" and env["NCCL_DMABUF_ENABLE"] == "0"


def test_dmabuf_wanted_but_only_peermem() -> None:
    d = cluster("a800-ib")
    d = d.model_copy(update={"network": d.network.model_copy(update={"gpudirect": GpuDirect.DMABUF})})
    s = {x.name: x for x in node_env(d, node("a800-ib"))}["NCCL_DMABUF_ENABLE"]
    assert s.value == "0" and "cannot do it" in s.why


def test_rail_far_from_its_gpus_raises_the_gdr_level() -> None:
    d = cluster("a800-ib")
    rails = [d.rails[0].model_copy(update={"gpus": [0, 1, 2]}), *d.rails[1:]]
    s = {x.name: x for x in node_env(d.model_copy(update={"rails": rails}), node("a800-ib"))}["NCCL_NET_GDR_LEVEL"]
    assert s.value == "PHB" and "GPU2-mlx5_2 NODE" in s.why


def test_without_definition_uses_active_ib_ports_only() -> None:
    inv = node("a800-ib-degraded")
    assert [p.hca for p in data_ports(None, inv)] == ["mlx5_2", "mlx5_4", "mlx5_5"]
    assert as_dict(node_env(None, inv))["NCCL_IB_HCA"] == "=mlx5_2:1,mlx5_4:1,mlx5_5:1"
    # RoCE-only node: the ports with an IPv4 RoCE v2 GID
    assert [p.hca for p in data_ports(None, node("roce-h100"))] == ["mlx5_0", "mlx5_1", "mlx5_2", "mlx5_3"]
    assert as_dict(node_env(None, node("h200-vm"))) == {"NCCL_SOCKET_IFNAME": "=eth0", "NCCL_DEBUG": "WARN"}


def test_socket_interface_the_node_lacks_is_left_to_nccl() -> None:
    d = cluster("a800-ib")
    missing = d.model_copy(update={"network": d.network.model_copy(update={"socket_ifname": "enp3s0"})})
    assert "NCCL_SOCKET_IFNAME" not in as_dict(node_env(missing, node("a800-ib")))
    inv = node("a800-ib")
    assert as_dict(node_env(d, inv))["NCCL_SOCKET_IFNAME"] == "=eth0"  # present: kept
    # an explicit override is the author's call, even for a missing interface
    forced = missing.model_copy(
        update={"nccl": missing.nccl.model_copy(update={"env": {"NCCL_SOCKET_IFNAME": "=net1"}})}
    )
    assert as_dict(node_env(forced, inv))["NCCL_SOCKET_IFNAME"] == "=net1"


def test_apply_env_reads_the_carried_definition_and_keeps_names() -> None:
    environ = {
        "AIINFRA_DEFINITION": cluster("a800-ib").model_dump_json(),
        "NCCL_IB_HCA": "=mlx5_2:1,mlx5_3:1,mlx5_4:1,mlx5_5:1",  # as the pod template declared it
        "NCCL_DEBUG": "INFO",
    }
    applied = apply_env(
        environ, sysfs_root=str(SYSFS / "a800-ib-degraded"), nvml=recorded("a800-ib-degraded"), keep=["NCCL_DEBUG"]
    )
    assert environ["NCCL_IB_HCA"] == applied["NCCL_IB_HCA"] == "=mlx5_2:1,mlx5_4:1,mlx5_5:1"
    assert environ["NCCL_DEBUG"] == "INFO" and "NCCL_DEBUG" not in applied


# --- CLI -------------------------------------------------------------------------------------


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def _node_args(machine: str) -> list[str]:
    return [
        "--sysfs-root",
        str(SYSFS / machine),
        "--nvml-recording",
        str(FIXTURES / "nvml" / f"{NVML[machine]}.json"),
    ]


def test_cli_env_explain_golden(capsys: pytest.CaptureFixture[str], golden: Callable[[str, str], None]) -> None:
    argv = [
        "nccl",
        "env",
        "--cluster",
        str(ROOT / "clusters/a800-ib.yaml"),
        "--explain",
        *_node_args("a800-ib-degraded"),
    ]
    rc, out, _ = _cli(argv, capsys)
    assert rc == 0
    golden("nccl/env-a800-ib-degraded-explain.txt", out)


def test_cli_env_json_golden(capsys: pytest.CaptureFixture[str], golden: Callable[[str, str], None]) -> None:
    rc, out, _ = _cli(
        ["nccl", "env", "--cluster", str(ROOT / "clusters/roce.yaml"), "--json", *_node_args("roce-h100")], capsys
    )
    assert rc == 0
    assert {s["name"]: s["value"] for s in json.loads(out)}["NCCL_IB_GID_INDEX"] == "3"
    golden("nccl/env-roce-h100.json", out)


def test_cli_env_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _cli(["nccl", "env", *_node_args("h200-vm")], capsys)
    assert rc == 0 and out == "NCCL_SOCKET_IFNAME==eth0\nNCCL_DEBUG=WARN\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["nccl", "env", "--sysfs-root", "/nonexistent/root"],
        ["nccl", "env", "--cluster", "/nonexistent.yaml"],
        ["nccl", "env", "--nvml-recording", "/nonexistent.json"],
    ],
)
def test_cli_env_bad_input_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _cli(argv, capsys)
    assert rc == 2 and err.startswith("aiinfra: ")


def _copy(machine: str, tmp_path: Path) -> Path:
    root = tmp_path / machine
    shutil.copytree(SYSFS / machine, root, symlinks=True)
    return root
