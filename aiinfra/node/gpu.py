"""GPUs as NVML reports them, through an injectable pynvml-like object.

``discover_gpus()`` uses the real ``pynvml`` module; tests and offline
analysis pass a :class:`RecordedNvml` that replays a JSON recording (made on
a real node with :func:`record_nvml`) through the same functions:
nvmlInit, nvmlShutdown, nvmlDeviceGetCount, nvmlDeviceGetHandleByIndex,
nvmlDeviceGetName, nvmlDeviceGetPciInfo, nvmlDeviceGetNumaNodeId,
nvmlDeviceGetNvLinkState and nvmlSystemGetDriverVersion.

Example:
    >>> import json
    >>> nvml = RecordedNvml(json.load(open("tests/fixtures/nvml/2xh200.json")))
    >>> [(g.index, g.name, g.pci_bus_id, g.nvlinks_active) for g in discover_gpus(nvml)]
    [(0, 'NVIDIA H200', '0000:00:06.0', 18), (1, 'NVIDIA H200', '0000:00:07.0', 18)]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

with warnings.catch_warnings():
    # Some installs ship a 'pynvml' shim that warns on import; the API is the same.
    warnings.simplefilter("ignore", FutureWarning)
    import pynvml

from aiinfra.errors import AiinfraError, UsageError
from aiinfra.node.pcie import normalize_bdf

# NVML_NVLINK_MAX_LINKS grew over releases (12 on A100, 18 on H100); ask for all
# and stop at the first link the device says it does not have.
_MAX_LINKS = int(getattr(pynvml, "NVML_NVLINK_MAX_LINKS", 18))


class GpuDiscoveryError(AiinfraError):
    """NVML could not be used (no driver, no GPU visible to this process)."""


@dataclass(frozen=True)
class Gpu:
    """One GPU of this node."""

    index: int
    name: str
    pci_bus_id: str
    """sysfs form, e.g. '0000:18:00.0'."""
    numa_node: int | None
    nvlinks: int
    """NVLink links the device has."""
    nvlinks_active: int
    """Links whose state is enabled (up)."""


def discover_gpus(nvml: Any = None) -> list[Gpu]:
    """All GPUs NVML sees, in NVML index order.

    Raises GpuDiscoveryError when NVML cannot be initialised.

    Example:
        >>> import json
        >>> gpus = discover_gpus(RecordedNvml(json.load(open("tests/fixtures/nvml/a800-8gpu.json"))))
        >>> len(gpus), gpus[7].pci_bus_id, gpus[7].nvlinks, gpus[7].nvlinks_active
        (8, '0000:be:00.0', 12, 8)
    """
    nvml = nvml if nvml is not None else pynvml
    try:
        nvml.nvmlInit()
    except Exception as exc:  # pynvml raises NVMLError, or OSError when libnvidia-ml is missing
        raise GpuDiscoveryError(f"NVML unavailable: {exc}") from None
    try:
        return [_gpu(nvml, i) for i in range(nvml.nvmlDeviceGetCount())]
    finally:
        nvml.nvmlShutdown()


def _gpu(nvml: Any, index: int) -> Gpu:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    links = _nvlink_states(nvml, handle)
    return Gpu(
        index=index,
        name=_text(nvml.nvmlDeviceGetName(handle)),
        pci_bus_id=normalize_bdf(_text(nvml.nvmlDeviceGetPciInfo(handle).busId)),
        numa_node=_numa(nvml, handle),
        nvlinks=len(links),
        nvlinks_active=sum(1 for s in links if s),
    )


def _nvlink_states(nvml: Any, handle: Any) -> list[bool]:
    states = []
    for link in range(_MAX_LINKS):
        try:
            states.append(nvml.nvmlDeviceGetNvLinkState(handle, link) == pynvml.NVML_FEATURE_ENABLED)
        except pynvml.NVMLError:
            break  # NotSupported / InvalidArgument: no such link (or no NVLink at all)
    return states


def _numa(nvml: Any, handle: Any) -> int | None:
    try:
        node = int(nvml.nvmlDeviceGetNumaNodeId(handle))
    except (pynvml.NVMLError, AttributeError):
        return None  # older drivers; discovery falls back to sysfs numa_node
    return node if node >= 0 else None


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def record_nvml(nvml: Any = None) -> dict[str, Any]:
    """A JSON-able recording of what this node's NVML reports, for :class:`RecordedNvml`.

    Example:
        >>> import json
        >>> rec = record_nvml(RecordedNvml(json.load(open("tests/fixtures/nvml/2xh200.json"))))
        >>> rec["gpus"][1]["pci_bus_id"]
        '00000000:00:07.0'
    """
    nvml = nvml if nvml is not None else pynvml
    nvml.nvmlInit()
    try:
        gpus = []
        for i in range(nvml.nvmlDeviceGetCount()):
            h = nvml.nvmlDeviceGetHandleByIndex(i)
            numa = _numa(nvml, h)
            gpus.append(
                {
                    "name": _text(nvml.nvmlDeviceGetName(h)),
                    "pci_bus_id": _text(nvml.nvmlDeviceGetPciInfo(h).busId),
                    "numa_node": numa,
                    "nvlink_states": [int(s) for s in _nvlink_states(nvml, h)],
                }
            )
        return {"driver_version": _text(nvml.nvmlSystemGetDriverVersion()), "gpus": gpus}
    finally:
        nvml.nvmlShutdown()


@dataclass(frozen=True)
class _PciInfo:
    busId: str


class RecordingError(UsageError):
    """An NVML recording not in the shape :func:`record_nvml` writes; the message names the field."""


def check_recording(recording: Any) -> dict[str, Any]:
    """``recording`` if it has the shape :func:`record_nvml` writes, else RecordingError naming the field.

    Example:
        >>> check_recording([1, 2])
        Traceback (most recent call last):
        ...
        aiinfra.node.gpu.RecordingError: expected an object with "gpus", got a list
    """
    if not isinstance(recording, dict):
        raise RecordingError(f'expected an object with "gpus", got a {_json_type(recording)}')
    if not isinstance(recording.get("driver_version", ""), str):
        raise RecordingError("driver_version: expected a string")
    gpus = recording.get("gpus", [])
    if not isinstance(gpus, list):
        raise RecordingError(f"gpus: expected a list, got a {_json_type(gpus)}")
    for i, gpu in enumerate(gpus):
        where = f"gpus[{i}]"
        if not isinstance(gpu, dict):
            raise RecordingError(f"{where}: expected an object, got a {_json_type(gpu)}")
        if not isinstance(gpu.get("name"), str):
            raise RecordingError(f"{where}.name: expected a string")
        try:
            normalize_bdf(str(gpu.get("pci_bus_id", "")))
        except ValueError:
            raise RecordingError(f"{where}.pci_bus_id: not a PCI address") from None
        numa = gpu.get("numa_node")
        if numa is not None and (type(numa) is not int or not -1 <= numa < 4096):
            raise RecordingError(f"{where}.numa_node: expected a NUMA node number or null")
        states = gpu.get("nvlink_states", [])
        if not isinstance(states, list) or any(s not in (0, 1) or isinstance(s, float) for s in states):
            raise RecordingError(f"{where}.nvlink_states: expected a list of 0 and 1")
    return recording


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


class RecordedNvml:
    """Replays a recording with the pynvml functions discovery uses.

    Errors come back as the real ``pynvml.NVMLError`` subclasses, so code
    under test takes the same paths as on a node. A recording of the wrong
    shape is a RecordingError (bad input) at once.
    """

    def __init__(self, recording: dict[str, Any]) -> None:
        self.recording = check_recording(recording)
        self._gpus: list[dict[str, Any]] = list(recording.get("gpus", []))
        self.initialised = False

    def nvmlInit(self) -> None:
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self.initialised = False

    def nvmlSystemGetDriverVersion(self) -> str:
        return str(self.recording.get("driver_version", ""))

    def nvmlDeviceGetCount(self) -> int:
        self._require_init()
        return len(self._gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._require_init()
        if not 0 <= index < len(self._gpus):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return index

    def nvmlDeviceGetName(self, handle: int) -> str:
        return str(self._gpus[handle]["name"])

    def nvmlDeviceGetPciInfo(self, handle: int) -> _PciInfo:
        return _PciInfo(str(self._gpus[handle]["pci_bus_id"]))

    def nvmlDeviceGetNumaNodeId(self, handle: int) -> int:
        node = self._gpus[handle].get("numa_node")
        if node is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return int(node)

    def nvmlDeviceGetNvLinkState(self, handle: int, link: int) -> int:
        states = self._gpus[handle].get("nvlink_states", [])
        if link >= len(states):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return int(states[link])

    def _require_init(self) -> None:
        if not self.initialised:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)


class NoNvml:
    """An NVML that finds no driver (for examples on machines without GPUs)."""

    def nvmlInit(self) -> None:
        raise OSError("libnvidia-ml.so.1 not found")
