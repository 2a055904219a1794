"""Node checks behind the exporter's conformance gauges: memlock, MTU, IOMMU, ACS, driver versions.

Each case copies a generated fixture tree (tests/fixtures/make_sysfs.py) and changes what the kernel
would show on a misconfigured node, with the writer of aiinfra/sim/kernel_files.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from aiinfra.definition.loader import load_definition
from aiinfra.definition.model import ClusterDefinition
from aiinfra.node.checks import Finding, check_node
from aiinfra.node.discovery import NodeInventory, discover_node
from aiinfra.node.gpu import RecordedNvml
from aiinfra.sim.kernel_files import CAP_EFF_WORKER, Tree

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
NVML = {"a800-ib": "a800-8gpu", "roce-h100": "h100-8gpu", "h200-vm": "2xh200"}
DEFINITION = {"a800-ib": "a800-ib", "roce-h100": "roce"}
DEFAULT_CAPS = "00000000a80425fb"  # the container runtime's default set: no IPC_LOCK


def copy(machine: str, tmp_path: Path) -> Path:
    root = tmp_path / machine
    shutil.copytree(FIXTURES / "sysfs" / machine, root, symlinks=True)
    return root


def node(machine: str, root: Path, recording: dict | None = None) -> NodeInventory:
    rec = recording or json.loads((FIXTURES / "nvml" / f"{NVML[machine]}.json").read_text())
    return discover_node(root, nvml=RecordedNvml(rec))


def cluster(machine: str) -> ClusterDefinition:
    return load_definition(ROOT / "clusters" / f"{DEFINITION[machine]}.yaml")


def found(machine: str, root: Path, with_definition: bool = True) -> list[tuple[str, str, str]]:
    findings: list[Finding] = check_node(node(machine, root), cluster(machine) if with_definition else None)
    return [(f.code, f.severity, f.device) for f in findings]


def test_memlock_limited_without_ipc_lock_is_an_error(tmp_path: Path) -> None:
    root = copy("a800-ib", tmp_path)
    Tree(root).process(memlock="8388608", cap_eff=DEFAULT_CAPS)
    assert found("a800-ib", root) == [("memlock-limited", "error", "process")]
    finding = check_node(node("a800-ib", root), cluster("a800-ib"))[0]
    assert "soft 8 MiB, hard 8 MiB" in finding.message and "ulimit -l unlimited" in finding.action


def test_memlock_limited_with_ipc_lock_or_unlimited_passes(tmp_path: Path) -> None:
    root = copy("a800-ib", tmp_path)
    Tree(root).process(memlock="65536", cap_eff=CAP_EFF_WORKER)
    assert found("a800-ib", root) == []
    Tree(root).process(memlock="unlimited", cap_eff=DEFAULT_CAPS)
    assert found("a800-ib", root) == []


def test_memlock_unreadable_is_info_and_no_rdma_means_no_check(tmp_path: Path) -> None:
    root = copy("a800-ib", tmp_path)
    (root / "proc/self/limits").unlink()
    assert found("a800-ib", root) == [("memlock-unknown", "info", "process")]
    vm = copy("h200-vm", tmp_path)
    Tree(vm).process(memlock="8388608", cap_eff=DEFAULT_CAPS)
    assert [c for c, _, _ in found("h200-vm", vm, with_definition=False)] == ["no-rdma"]


def test_roce_rail_mtu_below_4200_is_an_error(tmp_path: Path) -> None:
    root = copy("roce-h100", tmp_path)
    (root / "sys/class/net/enp26s0np0/mtu").write_text("1500\n")
    assert found("roce-h100", root) == [
        ("roce-mtu-low", "error", "mlx5_0:1 (enp26s0np0)"),
        ("rail-mtu-mixed", "warning", "rails"),
    ]
    message = check_node(node("roce-h100", root), cluster("roce-h100"))[0].message
    assert "active_mtu 1024" in message


def test_ipoib_rail_mtu_below_the_link_is_a_warning(tmp_path: Path) -> None:
    root = copy("a800-ib", tmp_path)
    (root / "sys/class/net/ibp26s0/mtu").write_text("2044\n")
    low = ("ipoib-mtu-low", "warning", "mlx5_2:1 (ibp26s0)")
    assert found("a800-ib", root) == [low, ("rail-mtu-mixed", "warning", "rails")]
    (root / "sys/class/net/ibp26s0/mode").write_text("connected\n")  # connected mode carries up to 65520
    assert found("a800-ib", root) == [("rail-mtu-mixed", "warning", "rails")]


def test_bond_member_mtu_differs_from_the_bond(tmp_path: Path) -> None:
    from aiinfra.sim.node_tree import write_node_tree

    d = load_definition(ROOT / "clusters" / "roce.yaml")
    root = write_node_tree(d, 0, tmp_path / "n0")
    inv = discover_node(root, nvml=RecordedNvml(json.loads((FIXTURES / "nvml" / "h100-8gpu.json").read_text())))
    assert [f.code for f in check_node(inv, d) if f.code.startswith("bond")] == []
    (root / "sys/class/net/eno2/mtu").write_text("9000\n")
    assert [(f.code, f.device) for f in check_node(inv, d) if f.code.startswith("bond")] == [
        ("bond-mtu-mismatch", "bond0/eno2")
    ]


def test_iommu_translation_on_a_gpu_and_a_rail_hca(tmp_path: Path) -> None:
    root = copy("a800-ib", tmp_path)
    t = Tree(root)
    gpu0 = (root / "sys/bus/pci/devices/0000:18:00.0").resolve().relative_to(root)
    hca = (root / "sys/bus/pci/devices/0000:1a:00.0").resolve().relative_to(root)
    t.iommu(str(gpu0), 17, "DMA-FQ")
    t.iommu(str(hca), 18, "identity")  # passthrough: fine
    (root / "proc/cmdline").write_text("BOOT_IMAGE=/boot/vmlinuz ro intel_iommu=on\n")
    assert found("a800-ib", root) == [("iommu-translation", "error", "GPU0 (0000:18:00.0)")]
    message = check_node(node("a800-ib", root), cluster("a800-ib"))[0].message
    assert "DMA-FQ" in message and "dmar0" in message and "intel_iommu=on" in message
    t.iommu(str(gpu0), 17, "identity")
    assert found("a800-ib", root) == []


def test_acs_redirect_on_a_switch_port_between_gpu_and_hca(tmp_path: Path) -> None:
    from aiinfra.sim.kernel_files import pci_bridge_config

    root = copy("a800-ib", tmp_path)
    port = root / "sys/bus/pci/devices/0000:17:02.0/config"  # the switch's downstream port above mlx5_2
    port.write_bytes(pci_bridge_config(0x1D))  # what Linux's pci_std_enable_acs sets: SV RR CR UF
    assert found("a800-ib", root) == [("acs-redirect", "error", "0000:17:02.0 (GPU0-mlx5_2)")]
    message = check_node(node("a800-ib", root), cluster("a800-ib"))[0].message
    assert "ACSCtl: SrcValid+ ReqRedir+ CmpltRedir+ UpstreamFwd+" in message
    port.write_bytes(pci_bridge_config(0x01))  # source validation alone keeps P2P on the switch
    assert found("a800-ib", root) == []


def test_acs_unreadable_config_space_is_info(tmp_path: Path) -> None:
    root = copy("a800-ib", tmp_path)
    for config in (root / "sys/devices").rglob("config"):
        config.write_bytes(config.read_bytes()[:64])  # what a process without CAP_SYS_ADMIN reads
    assert found("a800-ib", root) == [("acs-unchecked", "info", "node")]
    assert found("a800-ib", root, with_definition=False) == [("acs-unchecked", "info", "node")]


def test_mixed_hca_firmware_and_nvidia_module_mismatch(tmp_path: Path) -> None:
    root = copy("a800-ib", tmp_path)
    for i in range(2, 6):
        (root / f"sys/class/infiniband/mlx5_{i}/fw_ver").write_text("20.39.1002\n")
    assert found("a800-ib", root) == []
    (root / "sys/class/infiniband/mlx5_4/fw_ver").write_text("20.35.2000\n")
    (root / "sys/module/nvidia/version").write_text("550.54.15\n")  # the banner says 535.129.03
    assert found("a800-ib", root) == [
        ("nvidia-driver-mismatch", "error", "node"),
        ("hca-firmware-mixed", "warning", "rails"),
    ]
    message = next(f.message for f in check_node(node("a800-ib", root), cluster("a800-ib")) if f.severity == "warning")
    assert "mlx5_4 20.35.2000" in message
