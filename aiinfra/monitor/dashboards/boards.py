"""The five aiinfra dashboards: cluster overview, GPU health, InfiniBand fabric, management bond, Ray/training.

Every query uses the metric names of ``aiinfra.monitor.rules.metrics``, the same ones the
alerts read, and the ``node`` label every node-side scrape carries.

Example:
    >>> from aiinfra.monitor.dashboards.boards import all_dashboards
    >>> sorted(all_dashboards())
    ['aiinfra-bond', 'aiinfra-cluster', 'aiinfra-gpu', 'aiinfra-infiniband', 'aiinfra-ray']
"""

from __future__ import annotations

from typing import Any

from aiinfra.monitor.dashboards.panels import dashboard, matrix, stat, table, timeseries, variable
from aiinfra.monitor.rules import metrics as m
from aiinfra.monitor.rules.thresholds import Thresholds, duration_words

N = 'node=~"$node"'
G = 'node=~"$node",gpu=~"$gpu"'
NODE_VAR = variable("node", f'label_values(up{{job=~"{m.JOB_NODE_EXPORTER}|{m.JOB_AIINFRA}"}}, node)')
RAIL = f'{m.IB_PORT_INFO}{{{N},rail!=""}}'
_T = Thresholds()
"""The shipped thresholds: panels that show what an alert counts use the alert's window and limit."""
RAIL_RATIO_STEPS: list[tuple[str, float | None]] = [("red", None), ("orange", 0.5), ("green", 0.99)]


def _rail(expr: str) -> str:
    """Attach the rail name of each HCA port (the aiinfra exporter's info metric) to a per-port series."""
    return f"{expr} * on (node, device, port) group_left (rail) {RAIL}"


def cluster() -> dict[str, Any]:
    """Cluster overview: what is up, what fires, how busy the GPUs and rails are."""
    return dashboard(
        "aiinfra-cluster",
        "aiinfra / Cluster overview",
        [
            [
                stat("Nodes up", f'count(up{{job="{m.JOB_NODE_EXPORTER}"}} == 1)'),
                stat("GPUs seen", f"count({m.GPU_INFO})"),
                stat("Rail ports active", f"count({m.IB_STATE}{{{N}}} == 4)"),
                stat(
                    "Critical alerts firing",
                    'count(ALERTS{alertstate="firing",severity="critical"}) or vector(0)',
                    red_above=1,
                ),
            ],
            [
                table("Firing alerts", 'ALERTS{alertstate="firing"}'),
                timeseries("GPU utilization by node", [f"avg by (node) ({m.DCGM_UTIL}{{{N}}})"], unit="percent"),
            ],
            [
                timeseries(
                    "InfiniBand receive by node",
                    [f"sum by (node) (rate({m.IB_DATA_RX}{{{N}}}[$__rate_interval]))"],
                    unit="Bps",
                ),
                timeseries("GPU power by node", [f"sum by (node) ({m.DCGM_POWER}{{{N}}})"], unit="watt"),
            ],
        ],
        [NODE_VAR],
        "Health and load of the whole cluster at a glance.",
    )


def gpu() -> dict[str, Any]:
    """GPU health: temperature, power, XIDs, ECC and row remaps, throttling, PCIe, NVLink."""
    gpu_var = variable("gpu", f"label_values({m.DCGM_TEMP}{{{N}}}, gpu)")
    return dashboard(
        "aiinfra-gpu",
        "aiinfra / GPU health",
        [
            [
                timeseries("Temperature", [f"{m.DCGM_TEMP}{{{G}}}"], unit="celsius", legend="{{node}} GPU {{gpu}}"),
                timeseries("Power", [f"{m.DCGM_POWER}{{{G}}}"], unit="watt", legend="{{node}} GPU {{gpu}}"),
                timeseries("Utilization", [f"{m.DCGM_UTIL}{{{G}}}"], unit="percent", legend="{{node}} GPU {{gpu}}"),
            ],
            [
                table(
                    f"XIDs in the last {duration_words(_T.xid_window, article=False)}",
                    f"increase({m.XID}{{{G}}}[{_T.xid_window}]) > 0 or {m.XID}{{{G}}} > 0",
                ),
                table(
                    "Row remapping (pending / failed)",
                    f"{m.ROW_REMAP_PENDING}{{{G}}} + 2 * {m.ROW_REMAP_FAILURE}{{{G}}}",
                ),
                timeseries(
                    "Volatile ECC errors",
                    [f"{m.DCGM_DBE_VOL}{{{G}}}", f"{m.DCGM_SBE_VOL}{{{G}}}"],
                    legend="{{node}} GPU {{gpu}}",
                ),
            ],
            [
                timeseries(
                    "Hardware slowdown (fraction of time)",
                    [f"rate({m.GPU_VIOLATION}{{{G}}}[$__rate_interval])"],
                    unit="percentunit",
                    legend="{{node}} GPU {{gpu}} {{reason}}",
                ),
                timeseries(
                    "PCIe replays",
                    [f"increase({m.DCGM_PCIE_REPLAY}{{{G}}}[$__rate_interval])"],
                    legend="{{node}} GPU {{gpu}}",
                ),
                timeseries("PCIe width", [f"{m.GPU_PCIE_WIDTH}{{{G}}}"], legend="{{node}} GPU {{gpu}}"),
            ],
            [
                timeseries(
                    "NVLink errors",
                    [f"sum by (node, gpu, error) (increase({m.NVLINK_ERRORS}{{{G}}}[$__rate_interval]))"],
                    legend="{{node}} GPU {{gpu}} {{error}}",
                ),
                timeseries(
                    "NVLink links up", [f"sum by (node, gpu) ({m.NVLINK_STATE}{{{G}}})"], legend="{{node}} GPU {{gpu}}"
                ),
                timeseries(
                    "DCGM health (0 pass, 10 warn, 20 fail)",
                    [f"max by (node, gpu) ({m.DCGM_HEALTH}{{{G}}})"],
                    legend="{{node}} GPU {{gpu}}",
                ),
            ],
        ],
        [NODE_VAR, gpu_var],
        "Per-GPU health from dcgm-exporter and the aiinfra exporter.",
    )


def infiniband() -> dict[str, Any]:
    """InfiniBand fabric: node x rail matrices of rate and errors, per-port traffic and counters."""
    port = f"{{{N}}}"
    return dashboard(
        "aiinfra-infiniband",
        "aiinfra / InfiniBand fabric",
        [
            _infiniband_matrices(port),
            [
                timeseries(
                    "Receive",
                    [f"rate({m.IB_DATA_RX}{port}[$__rate_interval])"],
                    unit="Bps",
                    legend="{{node}} {{device}}",
                ),
                timeseries(
                    "Transmit",
                    [f"rate({m.IB_DATA_TX}{port}[$__rate_interval])"],
                    unit="Bps",
                    legend="{{node}} {{device}}",
                ),
            ],
            [
                timeseries("Port state (4 = active)", [f"{m.IB_STATE}{port}"], legend="{{node}} {{device}}"),
                timeseries(
                    "Transmit wait (congestion)",
                    [f"rate({m.IB_XMIT_WAIT}{port}[$__rate_interval])"],
                    legend="{{node}} {{device}}",
                ),
                timeseries(
                    "Transport retries",
                    [
                        # The one legend needs a `counter` on both queries.
                        f'label_replace(rate({m.RDMA_ACK_TIMEOUT}{port}[$__rate_interval]), '
                        '"counter", "local_ack_timeout", "", "")',
                        f'rate({m.IB_HW_COUNTER}{{{N},counter=~"req_.*_retries_exceeded"}}[$__rate_interval])',
                    ],
                    legend="{{node}} {{device}} {{counter}}",
                ),
            ],
        ],
        [NODE_VAR],
        "Data rails: are they up, at full rate, clean and uncongested.",
    )


def _infiniband_matrices(port: str) -> list[dict[str, Any]]:
    """The node x rail matrices: link rate against the declared rate, and link errors."""
    w = _T.ib_symbol_error_window
    ratio = f"{m.IB_RATE}{port} / on (node, device, port) group_left (rail) {m.IB_EXPECTED_RATE}{{{N}}}"
    return [
        matrix(
            "Link rate / expected (node x rail)",
            ratio,
            "node",
            "rail",
            "percentunit",
            RAIL_RATIO_STEPS,
            "1.0 = the rail runs at its declared rate; below = width or speed downshift; empty = port missing.",
        ),
        matrix(
            f"Symbol + link errors in {_T.ib_symbol_error_window} (node x rail)",
            _rail(f"(increase({m.IB_SYMBOL_ERRORS}{port}[{w}]) + increase({m.IB_LINK_DOWNED}{port}[{w}]))"),
            "node",
            "rail",
            "short",
            [("green", None), ("orange", 1), ("red", _T.ib_symbol_errors_per_window)],
        ),
    ]


def bond() -> dict[str, Any]:
    """Management bond: members up, aggregator membership, LACP partner and churn, link failures."""
    return dashboard(
        "aiinfra-bond",
        "aiinfra / Management bond",
        [
            [
                timeseries(
                    "Active members / members",
                    [f"{m.BOND_ACTIVE}{{{N}}}", f"{m.BOND_SLAVES}{{{N}}}"],
                    legend="{{node}} {{master}} {{__name__}}",
                ),
                matrix(
                    "Member in wrong aggregator (node x member)",
                    f"{m.BOND_AGGREGATOR_MISMATCH}{{{N}}}",
                    "node",
                    "slave",
                    "short",
                    [("green", None), ("red", 1)],
                ),
            ],
            [
                timeseries("LACP churned", [f"{m.BOND_CHURN}{{{N}}}"], legend="{{node}} {{slave}} {{side}}"),
                timeseries(
                    "Link failures",
                    [f"increase({m.BOND_LINK_FAILURES}{{{N}}}[$__rate_interval])"],
                    legend="{{node}} {{slave}}",
                ),
                stat("Bonds without LACP partner", f"sum({m.BOND_PARTNER_MAC_ZERO}{{{N}}}) or vector(0)", red_above=1),
            ],
        ],
        [NODE_VAR],
        "The 802.3ad management bond of each node.",
    )


def ray() -> dict[str, Any]:
    """Ray and training: RayClusters, Ray node load, worker restarts, fabric test results."""
    rc = 'namespace=~"$namespace",ray_cluster=~"$ray_cluster"'
    variables = [
        variable("namespace", f'label_values(up{{job="{m.JOB_RAY}"}}, namespace)'),
        variable("ray_cluster", f'label_values(up{{job="{m.JOB_RAY}",namespace=~"$namespace"}}, ray_cluster)'),
    ]
    return dashboard(
        "aiinfra-ray",
        "aiinfra / Ray and training",
        [
            [
                table("RayClusters (KubeRay)", f"{m.KUBERAY_PROVISIONED}"),
                timeseries(
                    "Ray pods scraped",
                    [f'sum by (ray_cluster, ray_node_type) (up{{job="{m.JOB_RAY}",{rc}}})'],
                    legend="{{ray_cluster}} {{ray_node_type}}",
                ),
            ],
            [
                timeseries("Ray node CPU", [f"{m.RAY_NODE_CPU_UTIL}{{{rc}}}"], unit="percent", legend="{{pod}}"),
                timeseries("Ray node memory used", [f"{m.RAY_NODE_MEM_USED}{{{rc}}}"], unit="bytes", legend="{{pod}}"),
                timeseries(
                    "Ray node GPU utilization",
                    [f"{m.RAY_NODE_GPUS_UTIL}{{{rc}}}"],
                    unit="percent",
                    legend="{{pod}} GPU {{GpuIndex}}",
                ),
            ],
            [
                matrix(
                    "Fabric test: rail bandwidth / expected (node x rail)",
                    m.FABRIC_RAIL_RATIO,
                    "node",
                    "rail",
                    "percentunit",
                    [("red", None), ("orange", 0.9), ("green", 0.95)],
                ),
                table("Fabric test: NCCL over sockets", f"{m.FABRIC_SOCKET} == 1"),
            ],
        ],
        variables,
        "Ray clusters from KubeRay's and Ray's own metrics, and the fabric test's findings.",
    )


def all_dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard by uid."""
    return {d["uid"]: d for d in (cluster(), gpu(), infiniband(), bond(), ray())}
