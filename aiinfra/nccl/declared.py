"""The NCCL environment a cluster definition implies, each value with its reason.

This is the *declared* environment, baked into pod templates before any node
is seen. On a node, :mod:`aiinfra.nccl.node_env` refines it from what the hardware
reports (active ports, the RoCE GID that carries an IPv4 address, whether
nvidia_peermem is loaded).

Example:
    >>> from aiinfra.definition import load_definition
    >>> env = declared_env(load_definition("clusters/a800-ib.yaml"))
    >>> as_dict(env)["NCCL_IB_HCA"]
    '=mlx5_2:1,mlx5_3:1,mlx5_4:1,mlx5_5:1'
"""

from __future__ import annotations

from dataclasses import dataclass

from aiinfra.definition.model import ClusterDefinition, GpuDirect, LinkLayer


@dataclass(frozen=True)
class EnvSetting:
    """One environment variable, its value, and why aiinfra chose it."""

    name: str
    value: str
    why: str


def ib_hca_value(hcas: list[tuple[str, int]]) -> str:
    """NCCL_IB_HCA with exact matching: '=mlx5_2:1,...'.

    Without '=' NCCL treats each entry as a prefix, so 'mlx5_1' would also
    select mlx5_10 and mlx5_11 on a node with more than ten devices.

    Example:
        >>> ib_hca_value([("mlx5_0", 1), ("mlx5_1", 1)])
        '=mlx5_0:1,mlx5_1:1'
    """
    return "=" + ",".join(f"{hca}:{port}" for hca, port in hcas)


def declared_env(d: ClusterDefinition) -> list[EnvSetting]:
    """NCCL settings derived from the definition alone, user overrides last."""
    out: list[EnvSetting] = []
    if d.rails:
        out.append(
            EnvSetting(
                "NCCL_IB_HCA",
                ib_hca_value([(r.hca, r.port) for r in d.rails]),
                "the definition's data rails, '=' for exact names so mlx5_1 does not also match mlx5_10",
            )
        )
        out.append(EnvSetting("NCCL_IB_DISABLE", "0", "the rails carry RDMA; never fall back to sockets silently"))
    out.append(
        EnvSetting(
            "NCCL_SOCKET_IFNAME",
            f"={d.network.socket_ifname}",
            "bootstrap and out-of-band traffic on the pod's primary interface, not on a rail or loopback",
        )
    )
    out.extend(_roce_settings(d))
    out.extend(_gpudirect_settings(d))
    out.append(EnvSetting("NCCL_DEBUG", d.nccl.debug, "nccl.debug in the definition"))
    for name, value in sorted(d.nccl.env.items()):
        out = [s for s in out if s.name != name]
        out.append(EnvSetting(name, value, "nccl.env override in the definition"))
    return out


def pinned_gid_index(d: ClusterDefinition) -> int | None:
    """The one GID index the definition pins for all its RoCE rails, or None ('auto' or differing).

    NCCL_IB_GID_INDEX is global to a process, so only a single explicit index can be pinned.

    Example:
        >>> from aiinfra.definition import load_definition
        >>> pinned_gid_index(load_definition("clusters/a800-ib.yaml")) is None
        True
    """
    indexes = {d.rail_gid_index(r) for r in d.rails if r.link_layer is LinkLayer.ETHERNET}
    only = next(iter(indexes)) if len(indexes) == 1 else None
    return only if isinstance(only, int) else None


def gpudirect_env(path: str, why: str) -> list[EnvSetting]:
    """NCCL settings for a GPUDirect path: 'dmabuf', 'peermem', 'off' (by choice) or 'none' (not possible).

    Example:
        >>> [(s.name, s.value) for s in gpudirect_env("none", "no path")]
        [('NCCL_NET_GDR_LEVEL', 'LOC'), ('NCCL_DMABUF_ENABLE', '0')]
    """
    if path == "dmabuf":
        return [EnvSetting("NCCL_DMABUF_ENABLE", "1", why)]
    if path == "peermem":
        return [EnvSetting("NCCL_DMABUF_ENABLE", "0", why)]
    if path == "off":
        return [EnvSetting("NCCL_NET_GDR_LEVEL", "LOC", why)]
    return [EnvSetting("NCCL_NET_GDR_LEVEL", "LOC", why), EnvSetting("NCCL_DMABUF_ENABLE", "0", why)]


def _roce_settings(d: ClusterDefinition) -> list[EnvSetting]:
    if not any(r.link_layer is LinkLayer.ETHERNET for r in d.rails):
        return []
    pinned = pinned_gid_index(d)
    if pinned is not None:
        return [EnvSetting("NCCL_IB_GID_INDEX", str(pinned), "network.gid_index for the RoCE rails")]
    # 'auto' (or differing per-rail indexes): let NCCL pick the RoCE v2 IPv4 GID on
    # each device; aiinfra.nccl.node_env pins the exact index on the node where it can read sysfs.
    return [
        EnvSetting("NCCL_IB_ROCE_VERSION_NUM", "2", "RoCE v2 (routable UDP) GIDs only"),
        EnvSetting("NCCL_IB_ADDR_FAMILY", "AF_INET", "the GID that carries the rail's IPv4 address"),
    ]


def _gpudirect_settings(d: ClusterDefinition) -> list[EnvSetting]:
    if not d.rails:
        return []
    why = {
        GpuDirect.DMABUF: "GPUDirect RDMA through DMA-BUF (network.gpudirect: dmabuf)",
        GpuDirect.PEERMEM: "GPUDirect RDMA through nvidia_peermem (network.gpudirect: peermem)",
        GpuDirect.OFF: "GPUDirect RDMA off (network.gpudirect: off): stage via host",
    }[d.network.gpudirect]
    return gpudirect_env(d.network.gpudirect.value, why)


def as_dict(settings: list[EnvSetting]) -> dict[str, str]:
    """Settings as an environment mapping.

    Example:
        >>> as_dict([EnvSetting("NCCL_DEBUG", "WARN", "")])
        {'NCCL_DEBUG': 'WARN'}
    """
    return {s.name: s.value for s in settings}
