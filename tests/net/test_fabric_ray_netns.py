"""Level 3 on a real Ray cluster whose nodes are network namespaces: real rails, real faults.

Four namespaces (:mod:`aiinfra.netns.fabric`), two rails each (interfaces ``rail0``/``rail1``, one bridge per
rail, tc htb at 100 Mbit/s); a Ray node in each (``ray start --block`` inside the namespace, the head in the
first, one logical GPU each, labelled ``aiinfra.io/k8s-node``), the test's driver run inside the first
namespace too. The definition's rails name those interfaces (``netdev: rail0``), so the Ray data plane
measures per rail; a slow node is a tc rate of 50% on every rail of one namespace. The floor's line rate
(``--line-gbps 0.08``) puts it at ~77% of the TCP goodput of 100 Mbit/s, between healthy and the fault,
as the namespace plane's floor does (a shared 2-core CPU, not the wire, makes the noise here).
Needs root and ``ip netns``; skipped otherwise.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiinfra.contract import K8S_NODE_LABEL
from aiinfra.netns import fabric as netns

pytestmark = [pytest.mark.ray,
              pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))]

ROOT = Path(__file__).resolve().parents[2]
NODES, RAILS, RATE_MBIT = 4, 2, 100.0
PORT = 6379


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), RAY_USAGE_STATS_ENABLED="0", OMP_NUM_THREADS="1")


def _ray_start(fabric: netns.Fabric, n: int, temp: Path, log: Path) -> subprocess.Popen[bytes]:
    args = ["--block", "--node-ip-address", fabric.ip(n, 0), "--num-cpus", "1", "--num-gpus", "1",
            "--labels", f"{K8S_NODE_LABEL}=node{n}", "--object-store-memory", str(80 * 2**20)]
    args += (["--head", "--port", str(PORT), "--include-dashboard=False", "--temp-dir", str(temp)] if n == 0
             else ["--address", f"{fabric.ip(0, 0)}:{PORT}"])
    argv = [sys.executable, "-m", "ray.scripts.scripts", "start", *args]
    if n > 0:
        # Ray keeps a node's IP and sockets in its temp dir: a worker node gets a temp dir of its own (a tmpfs in
        # its own mount namespace, which `ip netns exec` makes), as a node on another machine would.
        argv = ["sh", "-c", f'mount -t tmpfs -o size=256m tmpfs {temp} && exec "$@"', "sh", *argv]
    argv = ["ip", "netns", "exec", fabric.ns(n), *argv]
    # Its own session: stopping it (by its process group) stops exactly the Ray processes it started.
    return subprocess.Popen(argv, env=_env(), stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(log: Path, text: str, p: subprocess.Popen[bytes], timeout: float = 180) -> None:
    end = time.time() + timeout
    while text not in log.read_text(errors="replace"):
        assert p.poll() is None and time.time() < end, log.read_text(errors="replace")[-3000:]
        time.sleep(1)


def _in_first(fabric: netns.Fabric, argv: list[str], timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", fabric.ns(0), sys.executable, *argv], env=_env(), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def ray_fabric(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[netns.Fabric, Path]]:
    tmp = tmp_path_factory.mktemp("rayns")
    temp = Path(f"/tmp/aiftray{secrets.token_hex(3)}")  # short: Ray's socket paths must fit 107 bytes
    fabric = netns.Fabric.create(NODES, RAILS, RATE_MBIT)
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        nodes.append(_ray_start(fabric, 0, temp, tmp / "ray0.log"))
        wait = ("import ray, sys, time\nray.init(sys.argv[1], logging_level='WARNING')\nend = time.time() + 240\n"
                "while sum(n['Alive'] for n in ray.nodes()) < int(sys.argv[2]) and time.time() < end:\n"
                "    time.sleep(1)\nprint(sum(n['Alive'] for n in ray.nodes()))\n")
        temp.mkdir()
        _wait_for(tmp / "ray0.log", "Ray runtime started", nodes[0])  # the head first
        for n in range(1, NODES):
            nodes.append(_ray_start(fabric, n, temp, tmp / f"ray{n}.log"))
        done = _in_first(fabric, ["-c", wait, f"{fabric.ip(0, 0)}:{PORT}", str(NODES)])
        assert done.stdout.strip() == str(NODES), (done.stdout, done.stderr[-2000:],
                                                   [(tmp / f"ray{n}.log").read_text()[-1000:] for n in range(NODES)])
        definition = tmp / "ns.yaml"
        d = yaml.safe_load((ROOT / "clusters" / "a800-ib.yaml").read_text())
        d["rails"] = [{**r, "netdev": f"rail{i}"} for i, r in enumerate(d["rails"][:RAILS])]
        definition.write_text(yaml.safe_dump(d))
        yield fabric, definition
    finally:
        for p in reversed(nodes):
            for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
                if p.poll() is None:
                    os.killpg(p.pid, sig)
                    try:
                        p.wait(timeout=wait_s)
                    except subprocess.TimeoutExpired:
                        pass
        fabric.remove()
        shutil.rmtree(temp, ignore_errors=True)


def _net_test(fabric: netns.Fabric, definition: Path, out: Path) -> tuple[int, dict[str, Any], str]:
    run = _in_first(fabric, ["-m", "aiinfra", "net", "test", "--levels", "3", "--ray", f"{fabric.ip(0, 0)}:{PORT}",
                             "--cluster", str(definition), "--line-gbps", "0.08", "--json", str(out)])
    assert run.returncode in (0, 1), run.stdout + run.stderr[-3000:]
    return run.returncode, json.loads(out.read_text()), run.stdout


def test_healthy_then_a_slow_node_is_named(ray_fabric: tuple[netns.Fabric, Path], tmp_path: Path) -> None:
    fabric, definition = ray_fabric
    code, doc, said = _net_test(fabric, definition, tmp_path / "healthy.json")
    assert code == 0 and doc["levels"]["data plane"] == [], said
    assert "not per rail" not in said  # every namespace has rail0 and rail1: measured per rail
    try:
        for r in range(RAILS):
            fabric.shape(2, r, RATE_MBIT / 2)
        code, doc, said = _net_test(fabric, definition, tmp_path / "slow.json")
    finally:
        for r in range(RAILS):
            fabric.shape(2, r, RATE_MBIT)
    assert code == 1, said
    assert [(f["code"], f["device"]) for f in doc["levels"]["data plane"]] == [("slow-node", "node2")], said
