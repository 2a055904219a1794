"""NCCL_DEBUG=INFO log parsing (aiinfra.nccl.log) and ``aiinfra nccl log``.

The 2x H200 logs are real captures (NCCL 2.28.9, torch): the shared one (P2P/CUMEM),
and two recorded here on the device machine with NCCL_P2P_DISABLE=1 (SHM) and with
P2P and SHM disabled (traffic forced onto NET/Socket on one host). The other three
are short synthetic excerpts in the same line format, for what a machine without an
HCA cannot show: NET/IB with GDRDMA across two nodes, a two-node socket fallback,
and RoCE without GDR plus SHM inside a node.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from aiinfra.cli import main
from aiinfra.nccl.log import NcclLogReport, classify, parse_nccl_log

LOGS = Path(__file__).parent / "fixtures" / "nccl"
H200 = LOGS / "2xh200-nccl2.28-torch-allreduce-allgather.log"


def parse(name: str) -> NcclLogReport:
    return parse_nccl_log((LOGS / name).read_text())


def test_real_h200_log() -> None:
    r = parse(H200.name)
    assert r.version == "2.28.9+cuda13.0"
    assert r.networks == ["Socket"] and r.ib_no_device
    assert [(k.rank, k.host, k.cuda_dev, k.bus_id, k.nranks) for k in r.ranks] == [
        (0, "vm", 0, "60", 2),
        (1, "vm", 1, "70", 2),
    ]
    assert r.nnodes == 1
    assert r.transport_counts() == {"P2P/CUMEM": 48}
    assert r.pairs() == {(0, 1): {"P2P/CUMEM": 24}, (1, 0): {"P2P/CUMEM": 24}}
    assert (r.channels, r.rings, r.trees) == (24, 24, 24)
    assert r.nvls == "off" and r.env == {"NCCL_NVLS_ENABLE": "0"}
    # Socket chosen but unused on one node: flagged, not failed
    assert [(f.code, f.severity) for f in r.findings] == [("socket-network", "warning")]


def test_real_h200_log_with_p2p_disabled_shows_shm() -> None:
    r = parse("2xh200-nccl2.28-p2p-disabled-shm.log")
    assert r.transport_counts() == {"SHM": 8}
    assert r.env["NCCL_P2P_DISABLE"] == "1"
    assert [(f.code, f.severity) for f in r.findings] == [
        ("socket-network", "warning"),
        ("shm-intra-node", "warning"),
        ("debug-knob", "warning"),
    ]


def test_real_h200_log_forced_onto_sockets() -> None:
    # P2P and SHM off: NCCL treats each GPU as its own node and goes through NET/Socket
    r = parse("2xh200-nccl2.28-p2p-shm-disabled-socket.log")
    assert r.nnodes == 2 and r.transport_counts() == {"NET/Socket": 4}
    assert [(f.code, f.severity) for f in r.findings][:2] == [
        ("socket-fallback", "error"),
        ("socket-fallback", "error"),
    ]


def test_ib_with_gdr_names_the_hca() -> None:
    r = parse("ib-2node-gdr.log")
    assert r.networks == ["IB"] and r.nnodes == 2
    assert r.net_devices["node-b"] == ["mlx5_2:1/IB", "mlx5_3:1/IB"]
    net = [c for c in r.connections if c.transport == "NET/IB"]
    # each inter-node hop printed by sender and receiver is counted once
    assert len(net) == 4 and all(c.gdr for c in net)
    assert sorted({c.hca for c in net}) == ["mlx5_2:1", "mlx5_3:1"]
    assert r.pairs()[(1, 2)] == {"NET/IB/GDRDMA mlx5_2:1": 1, "NET/IB/GDRDMA mlx5_3:1": 1}
    assert r.pairs()[(0, 1)] == {"P2P/CUMEM": 2}
    assert (r.channels, r.rings, r.trees, r.nvls) == (2, 2, 2, "off")
    assert r.findings == []


def test_socket_fallback_is_an_error() -> None:
    r = parse("socket-fallback-2node.log")
    assert r.transport_counts() == {"NET/Socket": 4}
    errors = [f for f in r.findings if f.severity == "error"]
    assert [f.device for f in errors] == ["rank 0 -> rank 1", "rank 1 -> rank 0"]
    assert "node-a" in errors[0].message and "node-b" in errors[0].message
    assert "rdma" in errors[0].action


def test_socket_network_across_nodes_without_channel_lines() -> None:
    # INIT lines only (NCCL_DEBUG_SUBSYS without the connection lines): still an error across nodes
    text = "\n".join(
        line for line in (LOGS / "socket-fallback-2node.log").read_text().splitlines() if "Channel" not in line
    )
    r = parse_nccl_log(text)
    assert [(f.code, f.severity) for f in r.findings] == [
        ("socket-network", "error"),
        ("no-transport-lines", "info"),
    ]


def test_roce_without_gdr_and_shm() -> None:
    r = parse("roce-no-gdr-shm.log")
    assert r.version == "2.19.3+cuda12.3"
    assert r.transport_counts() == {"SHM": 2, "NET/IB": 2}
    assert all(c.gdr is False and c.hca == "mlx5_0:1" for c in r.connections if c.transport == "NET/IB")
    assert [(f.code, f.device) for f in r.findings] == [
        ("ib-without-gdr", "mlx5_0:1"),
        ("shm-intra-node", "node-a"),
        ("shm-intra-node", "node-b"),
        ("debug-knob", "NCCL_P2P_DISABLE"),
        ("nccl-warn", "nccl"),
    ]
    assert r.nvls is None


@pytest.mark.parametrize(
    ("via", "expected"),
    [
        ("NET/IB/0/GDRDMA", ("NET/IB", True, 0)),
        ("NET/IB/3(1)/GDRDMA/Shared", ("NET/IB", True, 3)),
        ("NET/IB/1", ("NET/IB", False, 1)),
        ("NET/Socket/0", ("NET/Socket", None, 0)),
        ("NET/AWS Libfabric/2/GDRDMA", ("NET/AWS Libfabric", None, 2)),
        ("P2P/CUMEM", ("P2P/CUMEM", None, None)),
        ("P2P/IPC/read", ("P2P/IPC", None, None)),
        ("P2P/direct pointer/read", ("P2P/direct", None, None)),
        ("P2P/CUMEM/CE", ("P2P/CUMEM", None, None)),
        ("SHM/direct/direct", ("SHM", None, None)),
    ],
)
def test_classify(via: str, expected: tuple[str, bool | None, int | None]) -> None:
    assert classify(via) == expected


def test_prefixes_and_nvls_on() -> None:
    text = "\n".join(
        [
            "[rank0]:gpu-node-1.example.com:100:100 [0] NCCL INFO NCCL version 2.27.7+cuda12.9",
            "gpu-node-1.example.com:100:100 [0] NCCL INFO NVLS multicast support is available on dev 0",
            "gpu-node-1.example.com:100:100 [0] NCCL INFO 16 coll channels, 16 collnet channels, 16 nvls channels, "
            "32 p2p channels, 32 p2p channels per peer",
            "gpu-node-1.example.com:100:100 [0] NCCL INFO Channel 00 : 0[18000] -> 1[2a000] via P2P/IPC",
        ]
    )
    r = parse_nccl_log(text)
    assert r.version == "2.27.7+cuda12.9" and r.nvls == "on" and r.channels == 16
    assert r.transport_counts() == {"P2P/IPC": 1}
    unavailable = parse_nccl_log("h:1:1 [0] NCCL INFO NVLS multicast support is not available on dev 0")
    assert unavailable.nvls == "unavailable"


def test_old_nccl_without_comm_id() -> None:
    # NCCL 2.10-2.17: only "Init COMPLETE", no commId, busId in the connection lines
    text = "\n".join(
        [
            "a:1:1 [0] NCCL INFO NCCL version 2.14.3+cuda11.7",
            "a:1:1 [0] NCCL INFO Channel 00 : 0[1b000] -> 1[1b000] [send] via NET/IB/0/GDRDMA",
            "b:2:2 [0] NCCL INFO Channel 00 : 0[1b000] -> 1[1b000] [receive] via NET/IB/0/GDRDMA",
            "a:1:1 [0] NCCL INFO comm 0x7f3a rank 0 nranks 2 cudaDev 0 busId 1b000 - Init COMPLETE",
            "b:2:2 [0] NCCL INFO comm 0x55e1 rank 1 nranks 2 cudaDev 0 busId 1b000 - Init COMPLETE",
            "a:1:1 [0] NCCL INFO comm 0x7f3a rank 0 nranks 2 cudaDev 0 busId 1b000 - Destroy COMPLETE",
        ]
    )
    r = parse_nccl_log(text)
    assert [(k.rank, k.host) for k in r.ranks] == [(0, "a"), (1, "b")]
    assert r.transport_counts() == {"NET/IB": 1}


# --- CLI -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("log", "rc"),
    [
        (H200.name, 0),
        ("2xh200-nccl2.28-p2p-shm-disabled-socket.log", 1),
        ("ib-2node-gdr.log", 0),
        ("socket-fallback-2node.log", 1),
        ("roce-no-gdr-shm.log", 0),
    ],
)
def test_cli_text_golden(
    log: str, rc: int, capsys: pytest.CaptureFixture[str], golden: Callable[[str, str], None]
) -> None:
    assert main(["nccl", "log", str(LOGS / log)]) == rc
    golden(f"nccl/log-{Path(log).stem}.txt", capsys.readouterr().out)


def test_cli_json(capsys: pytest.CaptureFixture[str], golden: Callable[[str, str], None]) -> None:
    assert main(["nccl", "log", "--json", str(LOGS / "socket-fallback-2node.log")]) == 1
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert doc["ok"] is False and doc["transport_counts"] == {"NET/Socket": 4}
    assert doc["connections"][0] == {"src": 0, "dst": 1, "transports": {"NET/Socket": 2}}
    golden("nccl/log-socket-fallback-2node.json", out)


def test_cli_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["nccl", "log", str(tmp_path / "missing.log")]) == 2
    empty = tmp_path / "plain.log"
    empty.write_text("epoch 1 loss 0.3\n")
    assert main(["nccl", "log", str(empty)]) == 2
    assert "NCCL_DEBUG=INFO" in capsys.readouterr().err


# --- hostile logs: linear time, bounded memory, findings instead of exceptions ------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "line",
    [
        "a" * 1_000_000,  # no colon, no mark: the old `search` tried every start (quadratic)
        "h" * 1_000_000 + ":1:1 [0] NCCL INFO Using network IB",  # a host name no DNS allows
        "h:1:1 [0] NCCL INFO NCCL_X set by environment to" + " " * 1_000_000 + "x",  # lazy group + spaces
        "h:1:1 [0] NCCL INFO Channel 00/24 :" + " 1" * 500_000 + " x",  # ring order that does not end
        "x" * 500_000 + " NCCL INFO " + "[" * 500_000,
    ],
    ids=["no-colon", "long-host", "env-spaces", "ring-order", "mark-late"],
)
def test_one_megabyte_lines_parse_in_linear_time(line: str) -> None:
    # The patterns are anchored, possessive or bounded to a fixed window, so none can backtrack;
    # the timeout is only a backstop against a regression to the quadratic ones (16 KB took 7.6 s).
    report = parse_nccl_log(line)
    assert report.nccl_lines <= 1


def test_numbers_no_nccl_prints_are_a_finding_not_an_exception() -> None:
    log = "\n".join(
        [
            "h:1:1 [0] NCCL INFO Channel " + "9" * 5000 + "/0 : 0[0] -> 1[0] via P2P/CUMEM",
            "h:1:1 [0] NCCL INFO Channel 00/0 : 0[0] -> 1[0] via NET/IB/" + "9" * 5000,
            "h:1:1 [0] NCCL INFO Ring " + "7" * 5000 + " : 0 1",
            "h:1:1 [0] NCCL INFO Channel 00/0 : 0[0] -> 1[0] via P2P/CUMEM",
        ]
    )
    r = parse_nccl_log(log)
    assert r.transport_counts() == {"P2P/CUMEM": 1}
    (finding,) = [f for f in r.findings if f.code == "malformed-lines"]
    assert finding.severity == "warning" and finding.message.startswith("3 NCCL line(s)")
    assert "(first at line 1)" in finding.message


def test_lines_are_read_one_at_a_time_and_cut(tmp_path: Path) -> None:
    from aiinfra.nccl.log import read_lines

    path = tmp_path / "x.log"
    path.write_text("a\r\n" + "b" * 50 + "\nc\rd")
    with path.open(newline="") as stream:
        assert list(read_lines(stream, limit=8)) == ["a", "bbbbbbbb", "c", "d"]
    # The CLI streams the file: a log is never read whole (a 300 MB log stays at a line's memory).
    big = tmp_path / "big.log"
    with big.open("w") as f:
        f.write((LOGS / "socket-fallback-2node.log").read_text())
        for _ in range(20_000):
            f.write("noise line without the NCCL mark\n")
    assert main(["nccl", "log", str(big)]) == 1  # the fallback in the first lines still fails it
