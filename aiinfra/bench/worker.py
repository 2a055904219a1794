"""One benchmark process: join a process group, measure, report what it saw.

The same :func:`run_task` runs inside a Ray actor (``aiinfra.bench.runner``)
and inside a plain ``torch.multiprocessing`` process, so the two launchers
measure with identical code. NCCL's INFO log is captured through
``NCCL_DEBUG_FILE`` (one file per process) rather than stderr, so it can be
returned to the driver whatever launched the process.

Example:
    >>> task = WorkerTask(spec=MeasureSpec(("all_reduce",), (2**20,)), group="local", rank=0, world=1,
    ...                   master_addr="127.0.0.1", master_port=29500, backend="gloo")
    >>> run_task(task).rows[0].collective  # doctest: +SKIP
    'all_reduce'
"""

from __future__ import annotations

import datetime
import glob
import os
import socket
import tempfile
from dataclasses import dataclass, field

from aiinfra.bench.spec import MeasureSpec, SizeResult
from aiinfra.definition.model import ClusterDefinition
from aiinfra.nccl.node_env import prepare_worker_env

# NCCL's own subsystems that name the transports, the topology and the settings it read.
NCCL_LOG_SUBSYS = "INIT,GRAPH,ENV,NET"


@dataclass(frozen=True)
class WorkerTask:
    """Everything one process needs: what to measure and how to reach its group."""

    spec: MeasureSpec
    group: str
    rank: int
    world: int
    master_addr: str
    master_port: int
    backend: str
    device_index: int | None = None
    """CUDA device in this process, an index into CUDA_VISIBLE_DEVICES."""
    visible_devices: str | None = None
    """CUDA_VISIBLE_DEVICES to set before CUDA starts (None: keep what the launcher set)."""
    env: dict[str, str] = field(default_factory=dict)
    """The run's own variables (mode, user), applied after the node's NCCL environment."""
    definition: ClusterDefinition | None = None
    nccl_log: bool = True
    timeout_s: float = 600.0


@dataclass(frozen=True)
class WorkerReport:
    """What one process sends back: its rows (identical on every rank), where it ran, NCCL's log."""

    group: str
    rank: int
    rows: list[SizeResult]
    host: str
    environment: dict[str, str]
    nccl_log: str = ""


def host_ip() -> str:
    """This host's address as other nodes reach it (Ray's view when Ray runs here)."""
    try:
        import ray

        if ray.is_initialized():
            return str(ray.util.get_node_ip_address())
    except ImportError:
        pass
    return socket.gethostbyname(socket.gethostname())


def run_task(task: WorkerTask) -> WorkerReport:
    """Join the group, run the sweep, leave the group; returns this rank's report.

    Example:
        >>> run_task(task)  # doctest: +SKIP
    """
    import torch
    import torch.distributed as dist

    from aiinfra.bench.measure import measure

    log_dir = tempfile.mkdtemp(prefix="aiinfra-nccl-")
    # NCCL reads its environment at the first communicator, so setting it here, before
    # init_process_group, reaches NCCL even inside a long-lived Ray worker process.
    prepare_worker_env(os.environ, task.definition, task.env)
    if task.visible_devices is not None:
        # Effective only because nothing in this process has touched CUDA yet.
        os.environ["CUDA_VISIBLE_DEVICES"] = task.visible_devices
    if task.backend == "nccl" and task.nccl_log:
        os.environ["NCCL_DEBUG"] = "INFO"  # a pod's NCCL_DEBUG=WARN would hide the transports
        os.environ.setdefault("NCCL_DEBUG_SUBSYS", NCCL_LOG_SUBSYS)
        os.environ["NCCL_DEBUG_FILE"] = os.path.join(log_dir, "nccl.%h.%p.log")
    device = torch.device("cpu")
    if task.backend == "nccl":
        device = torch.device("cuda", task.device_index or 0)
        torch.cuda.set_device(device)
    dist.init_process_group(
        task.backend,
        init_method=f"tcp://{task.master_addr}:{task.master_port}",
        rank=task.rank,
        world_size=task.world,
        timeout=datetime.timedelta(seconds=task.timeout_s),
        device_id=device if device.type == "cuda" else None,
    )
    try:
        rows = measure(task.spec, device)
        env = environment(device)
    finally:
        dist.destroy_process_group()
    return WorkerReport(
        group=task.group,
        rank=task.rank,
        rows=rows,
        host=socket.gethostname(),
        environment=env,
        nccl_log=_read_logs(log_dir),
    )


def environment(device: object) -> dict[str, str]:
    """Versions and hardware this process ran with, plus every NCCL_* variable set.

    Example:
        >>> environment(torch.device("cpu"))["torch"]  # doctest: +SKIP
        '2.15.0'
    """
    import torch

    env = {
        "host": socket.gethostname(),
        "torch": torch.__version__,
        "cuda": str(torch.version.cuda or ""),
        "backend": str(torch.distributed.get_backend()),
    }
    if isinstance(device, torch.device) and device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env["gpu"] = props.name
        env["gpu_memory_gib"] = f"{props.total_memory / 2**30:.0f}"
        env["pci_bus_id"] = pci_bus_id(props)
        env["nccl"] = ".".join(str(v) for v in torch.cuda.nccl.version())
        env["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    for name in sorted(os.environ):
        if name.startswith("NCCL_") and name not in ("NCCL_DEBUG_FILE", "NCCL_VERSION"):
            env[name] = os.environ[name]
    if "NCCL_VERSION" in os.environ:
        # A label NVIDIA's container images set, not a setting NCCL reads; it can differ from the
        # library actually loaded (torch's own NCCL), which "nccl" above reports.
        env["image_nccl_version"] = os.environ["NCCL_VERSION"]
    return env


def pci_bus_id(props: object) -> str:
    """The full PCI address of a CUDA device, as NVML and sysfs write it (torch gives its parts).

    Example:
        >>> from types import SimpleNamespace
        >>> pci_bus_id(SimpleNamespace(pci_domain_id=0, pci_bus_id=0x18, pci_device_id=0))
        '0000:18:00.0'
    """
    parts = [getattr(props, f"pci_{name}_id", None) for name in ("domain", "bus", "device")]
    if any(not isinstance(p, int) for p in parts):
        return ""
    domain, bus, device = parts
    return f"{domain:04x}:{bus:02x}:{device:02x}.0"


def _read_logs(log_dir: str) -> str:
    parts = []
    for path in sorted(glob.glob(os.path.join(log_dir, "nccl.*.log"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            parts.append(f.read())
        os.unlink(path)
    os.rmdir(log_dir)
    return "".join(parts)
