"""Node findings (aiinfra.node.checks.rails) and ``aiinfra node check``."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from aiinfra.cli import main
from aiinfra.definition.loader import load_definition
from aiinfra.definition.model import ClusterDefinition, LinkLayer
from aiinfra.findings import TRANSPORT_KNOBS
from aiinfra.node.checks import Finding, check_node, failed
from aiinfra.node.discovery import NodeInventory, discover_node
from aiinfra.node.gpu import RecordedNvml

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SYSFS = FIXTURES / "sysfs"
NVML = {"a800-ib": "a800-8gpu", "a800-ib-degraded": "a800-8gpu", "roce-h100": "h100-8gpu", "h200-vm": "2xh200"}


@pytest.fixture(autouse=True)
def _clean_nccl_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # the CLI checks os.environ; a developer's NCCL_* must not change the goldens
    for name in TRANSPORT_KNOBS:
        monkeypatch.delenv(name, raising=False)


def node(machine: str, root: Path | None = None, recording: dict | None = None) -> NodeInventory:
    rec = recording or json.loads((FIXTURES / "nvml" / f"{NVML[machine]}.json").read_text())
    return discover_node(root or SYSFS / machine, nvml=RecordedNvml(rec))


def cluster(name: str) -> ClusterDefinition:
    return load_definition(ROOT / "clusters" / f"{name}.yaml")


def codes(findings: list[Finding], severity: str = "error") -> list[tuple[str, str]]:
    return [(f.code, f.device) for f in findings if f.severity == severity]


def copy(machine: str, tmp_path: Path) -> Path:
    root = tmp_path / machine
    shutil.copytree(SYSFS / machine, root, symlinks=True)
    return root


def test_healthy_nodes_have_no_findings() -> None:
    assert check_node(node("a800-ib"), cluster("a800-ib")) == []
    assert check_node(node("roce-h100"), cluster("roce")) == []


def test_degraded_node_port_down_and_half_rate() -> None:
    findings = check_node(node("a800-ib-degraded"), cluster("a800-ib"))
    assert codes(findings) == [("port-down", "mlx5_3:1"), ("rate-low", "mlx5_4:1")]
    down, slow = findings
    assert "Polling" in down.message and "cable" in down.action
    assert "100 Gb/sec (2X HDR)" in slow.message and "200 Gb/s" in slow.message
    assert failed(findings)


def test_without_definition_a_down_port_is_only_a_warning() -> None:
    findings = check_node(node("a800-ib-degraded"))
    assert codes(findings, "warning") == [("port-down", "mlx5_3:1")]
    assert not failed(findings)


def test_missing_rail_hca(tmp_path: Path) -> None:
    root = copy("a800-ib", tmp_path)
    (root / "sys/class/infiniband/mlx5_5").unlink()
    findings = check_node(node("a800-ib", root), cluster("a800-ib"))
    assert codes(findings) == [("rail-hca-missing", "mlx5_5")]
    assert "rdma/rail3" in findings[0].action


def test_link_layer_mismatch() -> None:
    # the H100 NDR definition (IB) on the RoCE node (Ethernet), first four rails present
    d = cluster("h100-ndr")
    d = d.model_copy(update={"rails": d.rails[:4]})
    found = codes(check_node(node("roce-h100"), d))
    assert ("link-layer-mismatch", "mlx5_0:1") in found
    assert sum(c == "link-layer-mismatch" for c, _ in found) == 4


def test_gpu_hca_pairs_crossing_sockets() -> None:
    d = cluster("a800-ib")
    # rail0 (mlx5_2, socket 0) claimed for GPUs 4 and 5 (socket 1); rail2 for GPUs 2, 3 (other switch, same socket)
    rails = [d.rails[0].model_copy(update={"gpus": [4, 5]}), d.rails[1], d.rails[2].model_copy(update={"gpus": [0, 1]})]
    d = d.model_copy(update={"rails": [*rails, d.rails[3]]})
    findings = check_node(node("a800-ib"), d)
    assert ("gpu-hca-affinity", "GPU4-mlx5_2") in codes(findings)
    assert ("gpu-hca-affinity", "GPU0-mlx5_4") in codes(findings)
    f = next(f for f in findings if f.device == "GPU4-mlx5_2")
    assert "SYS" in f.message and "nvidia-smi topo -m" in f.action


def test_same_socket_other_switch_is_a_warning() -> None:
    d = cluster("a800-ib")
    d = d.model_copy(update={"rails": [d.rails[0].model_copy(update={"gpus": [0, 1, 2]}), *d.rails[1:]]})
    assert codes(check_node(node("a800-ib"), d), "warning") == [("gpu-hca-affinity", "GPU2-mlx5_2")]


def test_no_gpudirect_path(tmp_path: Path) -> None:
    root = copy("a800-ib", tmp_path)
    shutil.rmtree(root / "sys/module/nvidia_peermem")
    findings = check_node(node("a800-ib", root), cluster("a800-ib"))
    assert codes(findings) == [("no-gpudirect", "node")]
    assert "modprobe nvidia-peermem" in findings[0].action and "open" in findings[0].message


def test_dmabuf_asked_but_only_peermem() -> None:
    d = cluster("a800-ib")
    d = d.model_copy(update={"network": d.network.model_copy(update={"gpudirect": "dmabuf"})})
    assert codes(check_node(node("a800-ib"), d), "warning") == [("gpudirect-mode", "node")]


def test_roce_port_without_ipv4_gid(tmp_path: Path) -> None:
    root = copy("roce-h100", tmp_path)
    gids = root / "sys/class/infiniband/mlx5_1/ports/1/gids"
    for i in (2, 3):
        (gids / str(i)).write_text("0000:0000:0000:0000:0000:0000:0000:0000\n")
    findings = check_node(node("roce-h100", root), cluster("roce"))
    assert codes(findings) == [("roce-no-ipv4-gid", "mlx5_1:1")]
    assert "enp63s0np0" in findings[0].action


def test_roce_explicit_gid_index_that_is_not_v2_ipv4() -> None:
    d = cluster("roce")
    d = d.model_copy(update={"network": d.network.model_copy(update={"gid_index": 1})})
    found = codes(check_node(node("roce-h100"), d))
    assert found == [("roce-gid-index", f"mlx5_{i}:1") for i in range(4)]


def test_nvlink_down_and_gpu_count() -> None:
    rec = json.loads((FIXTURES / "nvml" / "a800-8gpu.json").read_text())
    rec["gpus"][3]["nvlink_states"] = [1] * 6 + [0] * 6
    del rec["gpus"][7]
    findings = check_node(node("a800-ib", recording=rec), cluster("a800-ib"))
    assert codes(findings) == [("gpu-count", "node"), ("nvlink-down", "GPU3"), ("gpu-missing", "GPU7")]


def test_vm_without_rdma_and_without_nvml() -> None:
    findings = check_node(node("h200-vm"))
    assert [(f.code, f.severity) for f in findings] == [("no-rdma", "info")]

    class NoDriver:
        def nvmlInit(self) -> None:
            raise OSError("libnvidia-ml.so.1: cannot open shared object file")

    inv = discover_node(SYSFS / "a800-ib", nvml=NoDriver())
    assert [(f.code, f.severity) for f in check_node(inv, cluster("a800-ib"))] == [("gpus-unknown", "info")]


def test_socket_interface_missing() -> None:
    d = cluster("a800-ib")
    d = d.model_copy(update={"network": d.network.model_copy(update={"socket_ifname": "net1"})})
    assert codes(check_node(node("a800-ib"), d), "warning") == [("socket-ifname-missing", "net1")]


def test_stray_nccl_variables_in_the_environment() -> None:
    environ = {"NCCL_P2P_DISABLE": "1", "NCCL_IB_DISABLE": "1", "HOME": "/root"}
    findings = check_node(node("a800-ib"), cluster("a800-ib"), environ)
    assert [(f.code, f.severity, f.device) for f in findings] == [
        ("stray-nccl-env", "error", "NCCL_IB_DISABLE"),
        ("stray-nccl-env", "warning", "NCCL_P2P_DISABLE"),
    ]
    # without rails, turning IB off is only worth a warning
    assert [f.severity for f in check_node(node("h200-vm"), None, {"NCCL_IB_DISABLE": "1"})] == ["warning", "info"]


def test_cli_reads_the_process_environment(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCCL_NET", "Socket")
    a800 = str(ROOT / "clusters/a800-ib.yaml")
    assert main(["node", "check", "--cluster", a800, *_args("a800-ib")]) == 1
    assert "NCCL_NET=Socket" in capsys.readouterr().out


def test_rail_link_layer_enum_values_match_sysfs() -> None:
    # sysfs writes exactly these strings; the comparison relies on it
    assert {e.value for e in LinkLayer} == {"InfiniBand", "Ethernet"}


# --- CLI -------------------------------------------------------------------------------------


def _args(machine: str) -> list[str]:
    return ["--sysfs-root", str(SYSFS / machine), "--nvml-recording", str(FIXTURES / "nvml" / f"{NVML[machine]}.json")]


@pytest.mark.parametrize(
    ("machine", "cluster_name", "rc"),
    [("a800-ib", "a800-ib", 0), ("a800-ib-degraded", "a800-ib", 1), ("roce-h100", "roce", 0), ("h200-vm", None, 0)],
)
def test_cli_text_golden(
    machine: str,
    cluster_name: str | None,
    rc: int,
    capsys: pytest.CaptureFixture[str],
    golden: Callable[[str, str], None],
) -> None:
    extra = ["--cluster", str(ROOT / "clusters" / f"{cluster_name}.yaml")] if cluster_name else []
    assert main(["node", "check", *extra, *_args(machine)]) == rc
    golden(f"node/check-{machine}.txt", capsys.readouterr().out)


def test_cli_json(capsys: pytest.CaptureFixture[str], golden: Callable[[str, str], None]) -> None:
    a800 = str(ROOT / "clusters/a800-ib.yaml")
    assert main(["node", "check", "--cluster", a800, "--json", *_args("a800-ib-degraded")]) == 1
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert doc["ok"] is False and doc["cluster"] == "a800-ib"
    assert [f["code"] for f in doc["findings"]] == ["port-down", "rate-low"]
    assert doc["node"]["gpudirect"]["available"] is True
    # the sysfs root is machine-specific; keep the golden portable
    golden("node/check-a800-ib-degraded.json", out.replace(str(SYSFS), "tests/fixtures/sysfs"))


def test_cli_definition_carried_by_the_pod(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIINFRA_DEFINITION", cluster("a800-ib").model_dump_json())
    assert main(["node", "check", *_args("a800-ib-degraded")]) == 1
    assert "[cluster a800-ib]" in capsys.readouterr().out
    monkeypatch.setenv("AIINFRA_DEFINITION", '{"name": 3}')
    assert main(["node", "check", *_args("a800-ib")]) == 2
    assert "AIINFRA_DEFINITION" in capsys.readouterr().err


def test_cli_bad_cluster_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nrails: 3\n")
    assert main(["node", "check", "--cluster", str(bad), *_args("a800-ib")]) == 2
    assert "bad.yaml" in capsys.readouterr().err
