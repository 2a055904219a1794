"""Node discovery against fixture sysfs trees and recorded NVML data."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from aiinfra.node.discovery import detect_gpudirect, discover_node
from aiinfra.node.gpu import GpuDiscoveryError, RecordedNvml, discover_gpus, record_nvml
from aiinfra.node.pcie import PciDistance, PciLocation, distance, locate, normalize_bdf, pci_distance
from aiinfra.node.rdma import Gid, discover_rdma

FIXTURES = Path(__file__).parent / "fixtures"
SYSFS = FIXTURES / "sysfs"


def nvml(name: str) -> RecordedNvml:
    return RecordedNvml(json.loads((FIXTURES / "nvml" / f"{name}.json").read_text()))


def _load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, FIXTURES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# --- PCIe distance -------------------------------------------------------------------------


def loc(rc: str, *chain: str, numa: int | None = 0) -> PciLocation:
    return PciLocation(chain[-1], rc, tuple(chain[:-1]), numa)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # sibling downstream ports of one switch
        (loc("pci0000:15", "r", "up", "dp0", "gpu"), loc("pci0000:15", "r", "up", "dp2", "hca"), PciDistance.PIX),
        # same bridge
        (loc("pci0000:15", "r", "gpu"), loc("pci0000:15", "r", "hca"), PciDistance.PIX),
        # two switches under one root port
        (loc("pci0000:15", "r", "upA", "dpA", "gpu"), loc("pci0000:15", "r", "upB", "dpB", "hca"), PciDistance.PXB),
        # different root ports of one host bridge
        (loc("pci0000:15", "r1", "gpu"), loc("pci0000:15", "r2", "hca"), PciDistance.PHB),
        # VM: both directly on bus 0
        (loc("pci0000:00", "gpu"), loc("pci0000:00", "hca"), PciDistance.PHB),
        (loc("pci0000:15", "r", "gpu"), loc("pci0000:3a", "r", "hca"), PciDistance.NODE),
        (loc("pci0000:15", "r", "gpu", numa=0), loc("pci0000:9a", "r", "hca", numa=1), PciDistance.SYS),
        # unknown NUMA never claims a socket crossing
        (loc("pci0000:15", "r", "gpu", numa=None), loc("pci0000:9a", "r", "hca", numa=1), PciDistance.NODE),
    ],
)
def test_distance_classes(a: PciLocation, b: PciLocation, expected: PciDistance) -> None:
    assert distance(a, b) is expected
    assert distance(b, a) is expected


def test_normalize_bdf_accepts_nvml_form() -> None:
    assert normalize_bdf("00000000:BD:00.0") == "0000:bd:00.0"
    with pytest.raises(ValueError, match="not a PCI address"):
        normalize_bdf("GPU-0")


def test_locate_from_fixture_tree() -> None:
    gpu = locate(SYSFS / "a800-ib", "00000000:18:00.0")
    assert gpu == PciLocation("0000:18:00.0", "pci0000:15", ("0000:15:01.0", "0000:16:00.0", "0000:17:00.0"), 0)
    assert locate(SYSFS / "a800-ib", "0000:ee:00.0") is None
    assert pci_distance(SYSFS / "a800-ib", "0000:18:00.0", "0000:9f:00.0") is PciDistance.SYS
    assert pci_distance(SYSFS / "h200-vm", "0000:00:06.0", "0000:00:03.0") is PciDistance.PHB


# --- RDMA ------------------------------------------------------------------------------------


def test_rdma_healthy_a800() -> None:
    devs = {d.name: d for d in discover_rdma(SYSFS / "a800-ib")}
    assert list(devs) == ["mlx5_0", "mlx5_1", "mlx5_2", "mlx5_3", "mlx5_4", "mlx5_5"]
    p = devs["mlx5_2"].ports[0]
    assert (p.state, p.phys_state, p.rate_gbps, p.link_layer, p.netdev) == (
        "ACTIVE",
        "LinkUp",
        200.0,
        "InfiniBand",
        "ibp26s0",
    )
    assert p.rate_text == "200 Gb/sec (4X HDR)"
    assert devs["mlx5_2"].pci_bus_id == "0000:1a:00.0"
    # IB ports: one link-local GID, no RoCE attributes
    assert p.gids == (Gid(0, "fe80:0000:0000:0000:b8ce:f603:00a1:2b00", None, None),)
    mgmt = devs["mlx5_1"]
    assert mgmt.pci_bus_id == "0000:01:00.1"
    assert mgmt.ports[0].link_layer == "Ethernet" and mgmt.ports[0].rate_gbps == 25.0


def test_rdma_degraded_ports() -> None:
    devs = {d.name: d for d in discover_rdma(SYSFS / "a800-ib-degraded")}
    down = devs["mlx5_3"].port(1)
    assert down is not None and not down.active
    assert (down.state, down.phys_state) == ("DOWN", "Polling")
    slow = devs["mlx5_4"].port(1)
    assert slow is not None and slow.active and slow.rate_gbps == 100.0 and "2X" in slow.rate_text


def test_roce_gid_table() -> None:
    port = discover_rdma(SYSFS / "roce-h100")[1].ports[0]
    kinds = [(g.index, g.type, g.ipv4 is not None, g.gid.startswith("fe80")) for g in port.gids]
    assert kinds == [
        (0, "IB/RoCE v1", False, True),
        (1, "RoCE v2", False, True),
        (2, "IB/RoCE v1", True, False),
        (3, "RoCE v2", True, False),
    ]
    best = port.roce_v2_ipv4_gid()
    assert best is not None and (best.index, best.ipv4, best.ndev) == (3, "10.1.0.11", "enp63s0np0")


def test_no_infiniband_dir(tmp_path: Path) -> None:
    assert discover_rdma(tmp_path) == []


# --- GPUs ------------------------------------------------------------------------------------


def test_gpus_from_real_h200_capture() -> None:
    gpus = discover_gpus(nvml("2xh200"))
    assert [(g.index, g.name, g.pci_bus_id, g.numa_node, g.nvlinks, g.nvlinks_active) for g in gpus] == [
        (0, "NVIDIA H200", "0000:00:06.0", None, 18, 18),
        (1, "NVIDIA H200", "0000:00:07.0", None, 18, 18),
    ]


def test_gpu_numa_falls_back_to_sysfs() -> None:
    inv = discover_node(SYSFS / "a800-ib", nvml=nvml("a800-8gpu"))
    assert [g.numa_node for g in inv.gpus] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert [g.nvlinks_active for g in inv.gpus] == [8] * 8


def test_nvml_missing_is_reported_not_raised() -> None:
    class Broken:
        def nvmlInit(self) -> None:
            raise OSError("libnvidia-ml.so.1: cannot open shared object file")

    with pytest.raises(GpuDiscoveryError, match="NVML unavailable"):
        discover_gpus(Broken())
    inv = discover_node(SYSFS / "a800-ib", nvml=Broken())
    assert inv.gpus == () and inv.gpu_error and "NVML" in inv.gpu_error
    assert len(inv.rdma) == 6


def test_real_nvml_recording_replays_as_the_nvidia_smi_capture_says() -> None:
    # h200x2-recorded.json came from record_nvml() with the real pynvml on the 2x H200 machine;
    # the capture (nvidia-smi -q -x, topo -m) of the same machine is in fixtures/nvidia/.
    make_nvml = _load_script("make_nvml")
    from_smi = make_nvml.from_capture(
        FIXTURES / "nvidia" / "2xh200-nvidia-smi-q.xml", FIXTURES / "nvidia" / "2xh200-nvidia-smi-topo-m.txt"
    )
    recorded = json.loads((FIXTURES / "nvml" / "h200x2-recorded.json").read_text())
    replayed = discover_gpus(RecordedNvml(recorded))
    assert replayed == discover_gpus(RecordedNvml(from_smi))
    assert [(g.name, g.pci_bus_id, g.nvlinks_active) for g in replayed] == [
        ("NVIDIA H200", "0000:00:06.0", 18),
        ("NVIDIA H200", "0000:00:07.0", 18),
    ]
    assert record_nvml(RecordedNvml(recorded)) == recorded  # recording a replay changes nothing


def test_record_then_replay_round_trip() -> None:
    rec = record_nvml(nvml("h100-8gpu"))
    assert discover_gpus(RecordedNvml(rec)) == discover_gpus(nvml("h100-8gpu"))


def test_committed_recordings_are_what_make_nvml_builds(tmp_path: Path) -> None:
    make_nvml = _load_script("make_nvml")
    make_nvml.build(FIXTURES, tmp_path)
    for built in sorted(tmp_path.iterdir()):
        assert built.read_text() == (FIXTURES / "nvml" / built.name).read_text(), built.name
    assert {p.name for p in tmp_path.iterdir()} == {"2xh200.json", "a800-8gpu.json", "h100-8gpu.json"}


# --- whole node ------------------------------------------------------------------------------


def test_distances_follow_the_switches() -> None:
    inv = discover_node(SYSFS / "a800-ib", nvml=nvml("a800-8gpu"))
    assert inv.distance(0, "mlx5_2") is PciDistance.PIX
    assert inv.distance(2, "mlx5_2") is PciDistance.NODE
    assert inv.distance(4, "mlx5_2") is PciDistance.SYS
    assert inv.distance(7, "mlx5_5") is PciDistance.PIX
    assert json.loads(json.dumps(inv.to_dict()))["distances"][0] == {"gpu": 0, "hca": "mlx5_0", "distance": "NODE"}


def test_gpudirect_per_machine(tmp_path: Path) -> None:
    a800 = detect_gpudirect(SYSFS / "a800-ib")
    assert (a800.peermem_loaded, a800.dmabuf_capable, a800.open_kernel_module) == (True, False, False)
    roce = detect_gpudirect(SYSFS / "roce-h100")
    assert (roce.peermem_loaded, roce.dmabuf_capable, roce.driver_version) == (False, True, "570.124.06")
    # the open module on an old kernel: no DMA-BUF
    old = tmp_path / "old"
    shutil.copytree(SYSFS / "roce-h100", old, symlinks=True)
    (old / "proc/sys/kernel/osrelease").write_text("5.4.0-150-generic\n")
    s = detect_gpudirect(old)
    assert not s.available and any("5.12" in n for n in s.notes)
    # nothing at all
    assert not detect_gpudirect(tmp_path / "empty").available


def test_committed_trees_match_the_script(tmp_path: Path) -> None:
    make_sysfs = _load_script("make_sysfs")
    make_sysfs.build(tmp_path)
    for machine in make_sysfs.MACHINES:
        assert _snapshot(SYSFS / machine) == _snapshot(tmp_path / machine), (
            f"tests/fixtures/sysfs/{machine} is stale: run python tests/fixtures/make_sysfs.py"
        )


def _snapshot(root: Path) -> dict[str, str | bytes]:
    # Files by content (binary PCI config space as bytes), symlinks by target; links are not followed.
    out: dict[str, str | bytes] = {}
    for path in root.rglob("*"):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = "-> " + str(path.readlink())
        elif path.is_file():
            out[rel] = path.read_bytes()
    return out
