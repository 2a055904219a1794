"""The NCCL environment of *this* node: the declared environment refined by discovery.

:func:`aiinfra.nccl.declared.declared_env` is what a pod template carries before
any node is seen. Here, on the node, each value is re-derived from what the
hardware reports, with the reason:

- NCCL_IB_HCA: only the rails whose port is ACTIVE, '=' for exact names.
- NCCL_IB_GID_INDEX (RoCE): the index of the RoCE v2 GID carrying an IPv4
  address (::ffff:a.b.c.d); when ports disagree, NCCL's own per-device choice
  (ROCE_VERSION_NUM=2, ADDR_FAMILY=AF_INET), since the index is global.
- NCCL_NET_GDR_LEVEL / NCCL_DMABUF_ENABLE: from the GPUDirect paths the node
  offers and the PCIe distance of each GPU to its rail's HCA.
- NCCL_SOCKET_IFNAME, NCCL_DEBUG from the definition; ``nccl.env`` overrides last.

Without a definition, the data ports are every active InfiniBand port (or,
when there is none, every active RoCE port with a RoCE v2 IPv4 GID).

Example:
    >>> import json
    >>> from pathlib import Path
    >>> from aiinfra.definition import load_definition
    >>> from aiinfra.node.discovery import discover_node
    >>> from aiinfra.node.gpu import NoNvml, RecordedNvml
    >>> inv = discover_node(Path("tests/fixtures/sysfs/a800-ib-degraded"),
    ...                     RecordedNvml(json.load(open("tests/fixtures/nvml/a800-8gpu.json"))))
    >>> as_dict(node_env(load_definition("clusters/a800-ib.yaml"), inv))["NCCL_IB_HCA"]
    '=mlx5_2:1,mlx5_4:1,mlx5_5:1'
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from aiinfra.definition.model import ClusterDefinition, Network, definition_from_env
from aiinfra.errors import AiinfraError
from aiinfra.nccl.declared import EnvSetting, as_dict, declared_env, gpudirect_env, ib_hca_value, pinned_gid_index
from aiinfra.node.data_ports import DataPort, data_ports
from aiinfra.node.discovery import NodeInventory, discover_node
from aiinfra.node.gpudirect import choose_gpudirect, gdr_reach
from aiinfra.node.interfaces import matching_interfaces

__all__ = ["EnvSetting", "apply_env", "as_dict", "dropped_names", "node_env", "prepare_worker_env", "shell_exports"]

log = logging.getLogger(__name__)


def node_env(d: ClusterDefinition | None, inv: NodeInventory) -> list[EnvSetting]:
    """Every NCCL setting for this node with its reason, definition overrides last.

    Example:
        >>> from aiinfra.node.gpu import NoNvml
        >>> [s.name for s in node_env(None, discover_node("tests/fixtures/sysfs/h200-vm", nvml=NoNvml()))]
        ['NCCL_SOCKET_IFNAME', 'NCCL_DEBUG']
    """
    base = _without_overrides(d) if d is not None else None
    out = declared_env(base) if base is not None else _default_env()
    ports = data_ports(d, inv)
    if ports:
        out = _put(out, _ib_hca(ports))
        roce = _roce(d, ports)
        if any(s.name == "NCCL_IB_GID_INDEX" for s in roce):
            # A pinned index makes NCCL's own selection moot; do not leave both.
            out = [s for s in out if s.name not in {"NCCL_IB_ROCE_VERSION_NUM", "NCCL_IB_ADDR_FAMILY"}]
        out = _put(out, *roce)
        out = _put(out, *_gpudirect(d, inv, ports))
    else:
        # Nothing to use for RDMA; drop what the template declared for rails.
        out = [s for s in out if s.name not in {"NCCL_IB_HCA", "NCCL_DMABUF_ENABLE"}]
    out = _drop_missing_socket_ifname(out, inv)
    for name, value in sorted((d.nccl.env if d else {}).items()):
        out = _put(out, EnvSetting(name, value, "nccl.env override in the definition (applied last)"))
    return out


def _drop_missing_socket_ifname(out: list[EnvSetting], inv: NodeInventory) -> list[EnvSetting]:
    # NCCL aborts at bootstrap when NCCL_SOCKET_IFNAME matches no interface; off a pod
    # (a workstation whose NIC is not eth0) NCCL's own choice is the better default.
    s = next((x for x in out if x.name == "NCCL_SOCKET_IFNAME"), None)
    if s is None or not inv.net_interfaces or s.value.startswith("^"):
        return out
    return out if matching_interfaces(s.value, inv.net_interfaces) else [x for x in out if x is not s]


def apply_env(
    environ: MutableMapping[str, str],
    d: ClusterDefinition | None = None,
    *,
    sysfs_root: str = "/",
    nvml: Any = None,
    keep: Iterable[str] = (),
) -> dict[str, str]:
    """Set this node's NCCL environment in ``environ`` (e.g. ``os.environ`` of a training worker).

    The definition defaults to the one the pod carries (AIINFRA_DEFINITION).
    Names in ``keep`` are left as they are. Returns what was set. Call it
    before the process group is created: NCCL reads its environment at init.

    Example:
        >>> from aiinfra.node.gpu import NoNvml
        >>> env = {}
        >>> apply_env(env, sysfs_root="tests/fixtures/sysfs/h200-vm", nvml=NoNvml())["NCCL_SOCKET_IFNAME"]
        '=eth0'
    """
    d = d if d is not None else definition_from_env(environ)
    settings = node_env(d, discover_node(sysfs_root, nvml=nvml))
    kept = set(keep)
    applied = {s.name: s.value for s in settings if s.name not in kept}
    for name in dropped_names(d, settings):
        if name not in kept:
            environ.pop(name, None)
    environ.update(applied)
    return applied


def dropped_names(d: ClusterDefinition | None, settings: list[EnvSetting]) -> list[str]:
    """Names the pod template declares that this node's environment leaves out on purpose (a pinned
    GID index replacing NCCL's own selection, rails or an interface the node lacks).

    Example:
        >>> from aiinfra.definition import load_definition
        >>> from aiinfra.node.gpu import NoNvml
        >>> d = load_definition("clusters/roce.yaml")
        >>> dropped_names(d, node_env(d, discover_node("tests/fixtures/sysfs/roce-h100", nvml=NoNvml())))
        ['NCCL_IB_ADDR_FAMILY', 'NCCL_IB_ROCE_VERSION_NUM']
    """
    if d is None or d.backend != "kubernetes":
        return []
    kept = {s.name for s in settings}
    return sorted({s.name for s in declared_env(d)} - kept)


def shell_exports(d: ClusterDefinition | None, settings: list[EnvSetting]) -> str:
    """Shell lines that turn a pod's declared NCCL environment into this node's (for a start command).

    Example:
        >>> print(shell_exports(None, [EnvSetting("NCCL_IB_HCA", "=mlx5_0:1", "why")]))
        export NCCL_IB_HCA==mlx5_0:1
    """
    lines = [f"unset {name}" for name in dropped_names(d, settings)]
    lines += [f"export {s.name}={shlex.quote(s.value)}" for s in settings]
    return "\n".join(lines)


def prepare_worker_env(
    environ: MutableMapping[str, str], definition: ClusterDefinition | None, user_env: Mapping[str, str]
) -> dict[str, str]:
    """Prepare one training or benchmark worker's environment: this node's NCCL settings, then the user's.

    The one function both ``aiinfra.train`` and ``aiinfra bench`` workers call, so a benchmark
    measures exactly what training gets. The definition defaults to the one the pod carries.
    Only Kubernetes definitions are applied: a local definition describes a laptop, where NCCL's
    own defaults beat a guessed interface name. Returns what was set.

    Example:
        >>> env = {}
        >>> prepare_worker_env(env, None, {"NCCL_ALGO": "Ring"})
        {'NCCL_ALGO': 'Ring'}
    """
    d = definition if definition is not None else definition_from_env(environ)
    applied: dict[str, str] = {}
    if d is not None and d.backend == "kubernetes":
        try:
            applied = apply_env(environ, d, keep=user_env)
        except (OSError, ValueError, AiinfraError) as exc:
            # The node-level view refines the declared one; without sysfs the declared env still works.
            log.warning("node-level NCCL environment unavailable (%s); using the declared one", exc)
            applied = as_dict(declared_env(d))
            environ.update({k: v for k, v in applied.items() if k not in user_env})
    environ.update(user_env)
    return {**applied, **user_env}


def _ib_hca(ports: list[DataPort]) -> EnvSetting:
    active = [p for p in ports if p.state is not None and p.state.active]
    dropped = [p for p in ports if p not in active]
    why = "active data ports, '=' for exact names so mlx5_1 does not also match mlx5_10"
    if dropped:
        why += "; left out (not ACTIVE or missing): " + ", ".join(f"{p.hca}:{p.port}" for p in dropped)
    if not active:
        # Keep the full list rather than none: an empty filter would let NCCL pick any
        # device, management ports included. aiinfra node check reports the ports.
        every = ib_hca_value([(p.hca, p.port) for p in ports])
        return EnvSetting("NCCL_IB_HCA", every, "no data port is ACTIVE, kept them all (NCCL will find none usable)")
    return EnvSetting("NCCL_IB_HCA", ib_hca_value([(p.hca, p.port) for p in active]), why)


def _roce(d: ClusterDefinition | None, ports: list[DataPort]) -> list[EnvSetting]:
    roce = [p for p in ports if p.state is not None and p.state.active and p.state.link_layer == "Ethernet"]
    if not roce:
        return []
    pinned = pinned_gid_index(d) if d else None
    if pinned is not None:
        return [EnvSetting("NCCL_IB_GID_INDEX", str(pinned), "gid_index given in the definition")]
    found = {p.hca: p.state.roce_v2_ipv4_gid() for p in roce if p.state is not None}
    indexes = {g.index for g in found.values() if g is not None}
    if len(indexes) == 1 and all(found.values()):
        idx = indexes.pop()
        hcas = ", ".join(f"{h} ({g.ipv4})" for h, g in found.items() if g is not None)
        return [EnvSetting("NCCL_IB_GID_INDEX", str(idx), f"the RoCE v2 GID carrying an IPv4 address on {hcas}")]
    per = ", ".join(f"{h}: {g.index if g else 'none'}" for h, g in found.items())
    # NCCL_IB_GID_INDEX is one value for every device, so it cannot be pinned here;
    # NCCL >= 2.21 selects per device from these two (its default GID index is -1 = auto).
    return [
        EnvSetting("NCCL_IB_ROCE_VERSION_NUM", "2", "RoCE v2 (routable UDP) GIDs only"),
        EnvSetting(
            "NCCL_IB_ADDR_FAMILY", "AF_INET", f"RoCE v2 IPv4 GID index differs per port ({per}): NCCL picks per device"
        ),
    ]


def _gpudirect(d: ClusterDefinition | None, inv: NodeInventory, ports: list[DataPort]) -> list[EnvSetting]:
    choice = choose_gpudirect(d.network.gpudirect if d else None, inv.gpudirect)
    out = gpudirect_env(choice.path, choice.why)
    if choice.path in ("off", "none"):
        return out
    level = _gdr_level(inv, ports)
    if level is not None:
        out.append(level)
    return out


def _gdr_level(inv: NodeInventory, ports: list[DataPort]) -> EnvSetting | None:
    pairs = [(g, p.hca, inv.distance(g, p.hca)) for p in ports for g in p.gpus]
    known = [(g, h, dist) for g, h, dist in pairs if dist is not None]
    if not known:
        return None
    worst = max(dist for _, _, dist in known)
    if gdr_reach(worst) == "switch":
        return EnvSetting(
            "NCCL_NET_GDR_LEVEL", "PXB", "every GPU shares a PCIe switch with its rail's HCA (NCCL default)"
        )
    far = sorted({f"GPU{g}-{h} {dist.name}" for g, h, dist in known if gdr_reach(dist) != "switch"})
    why = "GPU and HCA meet only at the root complex (" + ", ".join(far) + "); NCCL's default PXB would disable GDR"
    if gdr_reach(worst) == "beyond":
        why = "pairs beyond the root complex do not use GPUDirect (see aiinfra node check): " + ", ".join(far)
    return EnvSetting("NCCL_NET_GDR_LEVEL", "PHB", why)


def _default_env() -> list[EnvSetting]:
    ifname = Network().socket_ifname
    return [
        EnvSetting("NCCL_SOCKET_IFNAME", f"={ifname}", "no cluster definition: the pod's primary interface"),
        EnvSetting("NCCL_DEBUG", "WARN", "no cluster definition: NCCL's default"),
    ]


def _without_overrides(d: ClusterDefinition) -> ClusterDefinition:
    return d.model_copy(update={"nccl": d.nccl.model_copy(update={"env": {}})})


def _put(settings: list[EnvSetting], *new: EnvSetting) -> list[EnvSetting]:
    """Replace settings of the same name in place; append the others (order stays readable)."""
    out = list(settings)
    for s in new:
        names = [x.name for x in out]
        if s.name in names:
            out[names.index(s.name)] = s
        else:
            out.append(s)
    return out
