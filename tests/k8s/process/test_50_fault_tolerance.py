"""A worker pod's processes die mid-training: the pod is restarted, Ray Train resumes; a lost pod is recreated.

examples/train_checkpoint.py runs with one worker on each worker pod and a checkpoint every epoch on the
definition's shared storage (roce.yaml's NFS export, one folder of the simulator here). Once a checkpoint
exists, every process of one worker pod is killed, as the OOM killer or a crash would: PID 1 of the pod
(the sandbox, standing in for the container runtime) stays and reports the container killed (137).
KubeRay renders worker pods with ``restartPolicy: Always``, so the node agent, as a kubelet does,
restarts the container in the same pod; its Ray node joins again and Ray Train restarts the worker group
from the last checkpoint. Then the pod itself is deleted, as a node drain does: KubeRay creates a new
one, the agent runs it, and the cluster is ready again with both workers joined.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from aiinfra.definition.loader import load_definition
from tests.k8s.process.conftest import DEFINITION, NAME, ROOT

pytestmark = pytest.mark.timeout(2400)
MOUNT = "/mnt/ray-storage"  # ray.storage.mount_path's default
# 12 epochs of 5 s leave a minute to see the first checkpoint in the job's logs and kill mid-run: with 8, a loaded
# 2-core run once saw it so late that the kill came after the last epoch and nothing had to resume.
EPOCHS = 12


def pod_processes(state: Path, uid: str) -> tuple[int, list[int]]:
    """The host pids of a pod's PID 1 (its sandbox) and of every other process in its PID namespace."""
    plan = f"{state}/pods/{uid}/plan.json"
    ours = os.readlink("/proc/self/ns/pid")
    pids: dict[int, str] = {}
    pid1 = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                pids[int(entry.name)] = os.readlink(entry / "ns" / "pid")
                if plan in (entry / "cmdline").read_bytes().decode(errors="replace") and pids[int(entry.name)] != ours:
                    pid1 = int(entry.name)
            except OSError:
                continue
    assert pid1, f"no sandbox process of pod {uid} under {state}"
    ns = pids[pid1]
    return pid1, [p for p, n in pids.items() if n == ns and p != pid1]


def kill_pod_processes(state: Path, uid: str) -> int:
    """SIGKILL everything the pod runs but its PID 1, until nothing is left; how many were killed."""
    killed = 0
    for _ in range(10):
        _, victims = pod_processes(state, uid)
        if not victims:
            break
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.5)
    return killed


def worker_pods(pkube) -> list:
    pods = pkube.core.list_namespaced_pod("default", label_selector=f"ray.io/cluster={NAME},ray.io/node-type=worker")
    return pods.items


def wait_for_log(job, needle: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = "\n".join(job.logs())
        if needle in text or job.status() in ("SUCCEEDED", "FAILED", "STOPPED"):
            return text
        time.sleep(2)
    return text


def test_killed_worker_pod_is_recreated_and_training_resumes_from_its_checkpoint(ray_cluster, proc_sim, pkube):
    before = {p.metadata.uid: p for p in worker_pods(pkube)}
    assert len(before) == 2
    job = ray_cluster.submit(
        f"python examples/train_checkpoint.py --workers 2 --strategy STRICT_SPREAD --epochs {EPOCHS} --epoch-seconds 5",
        working_dir=str(ROOT),
        # Ray Train's 30 s for a worker group's placement (retried) is short on a loaded 2-core machine.
        env={"RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S": "120"},
    )
    text = wait_for_log(job, "checkpoint saved", timeout=900)
    assert "checkpoint saved" in text and job.status() == "RUNNING", text[-3000:]
    saved = [int(e) for e in re.findall(rf"epoch (\d+)/{EPOCHS}: loss [\d.]+, checkpoint saved", text)]
    assert max(saved) < EPOCHS, f"training ended before the kill: {saved}"

    victim = next(iter(before.values()))
    assert kill_pod_processes(proc_sim.state_dir, victim.metadata.uid) > 0

    assert job.wait(timeout=1500) == "SUCCEEDED", "\n".join(job.logs())[-4000:]
    logs = "\n".join(job.logs())
    resumed = re.search(rf"resumed from checkpoint ({MOUNT}/\S+) \(epoch (\d+)\)", logs)
    assert resumed, logs[-4000:]
    assert int(resumed.group(2)) >= max(saved), (saved, resumed.group(0))
    assert f"done: epoch {EPOCHS}" in logs and f"epoch {EPOCHS}/{EPOCHS}" in logs.split(resumed.group(0))[1]
    # The checkpoint lives on the shared storage, simulated as one folder of the simulator.
    nfs = load_definition(DEFINITION).ray.storage.nfs
    shared = proc_sim.state_dir / "shared-storage" / "nfs" / nfs.server / nfs.path.lstrip("/")
    assert (shared / Path(resumed.group(1)).relative_to(MOUNT) / "state.pt").is_file()

    # The killed container was restarted in its pod, as the kubelet does under restartPolicy Always.
    pod = pkube.core.read_namespaced_pod(victim.metadata.name, "default")
    assert pod.metadata.uid == victim.metadata.uid and pod.spec.restart_policy == "Always"
    (status,) = pod.status.container_statuses
    assert status.restart_count >= 1 and status.last_state.terminated.exit_code == 137, status

    # A pod that is gone (a drained or lost node) is recreated by KubeRay; the agent runs the new one.
    pkube.core.delete_namespaced_pod(victim.metadata.name, "default")
    assert wait_until_replaced(pkube, ray_cluster, victim.metadata.uid, timeout=900), worker_pods(pkube)
    st = ray_cluster.status()
    assert st.ready and st.workers_joined == 2, st


def wait_until_replaced(pkube, cluster, uid: str, timeout: float) -> bool:
    """Until two worker pods run, none of them the pod ``uid``, and both joined Ray."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = worker_pods(pkube)
        if (
            uid not in {p.metadata.uid for p in now}
            and len(now) == 2
            and all(p.status.phase == "Running" for p in now)
            and cluster.status().workers_joined == 2
        ):
            return True
        time.sleep(5)
    return False
