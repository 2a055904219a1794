"""Every name that crosses the pod boundary: what the renderer writes into a pod spec and
what code inside the pod reads back.

The renderer (``aiinfra.k8s.raycluster``), the live backends and in-pod code (placement,
training, the benchmarks) all take these names from here, so in-pod code never imports
the renderer and the two sides cannot drift apart.

Example:
    >>> topology_configmap_name("demo"), f"{TOPOLOGY_DIR}/{TOPOLOGY_KEY}"
    ('demo-topology', '/etc/aiinfra/topology/nodes.json')
"""

from __future__ import annotations

# Kubernetes metadata on every object aiinfra creates.
MANAGED_BY = "app.kubernetes.io/managed-by"
CLUSTER_LABEL = "aiinfra.io/cluster"
ROLE_LABEL = "aiinfra.io/role"
DEFINITION_LABEL = "aiinfra.io/definition"
NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
TOKEN_KEY = "auth_token"
"""Key of the Ray auth token in the cluster's Secret."""

# Environment of every Ray pod.
DEFINITION_ENV = "AIINFRA_DEFINITION"
"""The cluster definition as JSON, so in-pod code knows the rails without reading a file."""
NODE_NAME_ENV = "AIINFRA_NODE_NAME"
"""The Kubernetes node the pod runs on (downward API)."""
STORAGE_PATH_ENV = "AIINFRA_STORAGE_PATH"
"""Ray Train's storage_path from the definition's ray.storage (a shared mount path or an object store URI),
set on head and workers; aiinfra.train.fit uses it, and a plain Ray Train script can pass it to RunConfig."""
FAKE_GPUS_ENV = "AIINFRA_FAKE_GPUS"
"""``1`` in pods of the simulator's process-backed nodes: Ray holds GPU resources that do not exist, so
aiinfra.train trains with gloo on CPU while still placing one worker per (fake) GPU."""

# Ray labels and resources.
K8S_NODE_LABEL = "aiinfra.io/k8s-node"
"""Ray node label carrying the Kubernetes node name (a pod cannot read its node's labels)."""
RAILS_RESOURCE = "aiinfra_rails"
"""Ray resource advertising how many data rails a worker holds, so placement groups can ask
for whole nodes with their rails."""

# The fabric-label ConfigMap mounted in every pod.
TOPOLOGY_DIR = "/etc/aiinfra/topology"
TOPOLOGY_KEY = "nodes.json"
TOPOLOGY_FILE_ENV = "AIINFRA_TOPOLOGY_FILE"

# Environment aiinfra.train sets on its own Ray Train workers.
RANK_MAP_ENV = "AIINFRA_RANK_MAP"
"""JSON list of RankSlot dicts, set on every worker: rank -> node, local rank, leaf."""
BACKEND_ENV = "AIINFRA_DIST_BACKEND"
SINK_ENV = "AIINFRA_REPORT_SINK"
"""Name of the fit's ReportSink actor, for aiinfra.train.report on rank 0."""


def topology_configmap_name(cluster: str) -> str:
    """The ConfigMap holding a cluster's node -> fabric labels map.

    Example:
        >>> topology_configmap_name("demo")
        'demo-topology'
    """
    return f"{cluster}-topology"


# Metrics the network test writes (a Prometheus textfile) and the alert rules read.
FABRIC_PASSED_METRIC = "aiinfra_fabric_test_passed"
FABRIC_SOCKET_METRIC = "aiinfra_fabric_test_nccl_socket_fallback"
"""{node}: 1 where NCCL fell back to sockets."""
FABRIC_RAIL_RATIO_METRIC = "aiinfra_fabric_test_rail_busbw_ratio"
"""{node,rail}: the rail's best pair busbw / line rate."""
FABRIC_LAST_RUN_METRIC = "aiinfra_fabric_test_last_run_timestamp_seconds"
"""When the test finished (Unix seconds)."""
TEXTFILE_DIR = "/var/lib/node_exporter/textfile_collector"
"""Host directory node_exporter's textfile collector reads (rendered into the node-exporter values):
``aiinfra net test --metrics <TEXTFILE_DIR>/aiinfra-fabric-test.prom`` on a node publishes the findings."""


# Nodes the fabric test found bad (``aiinfra net test --label/--taint``): one key for the label and the taint,
# the value names what failed. The RayCluster renderer requires the label absent; the NoSchedule taint keeps
# every pod that does not tolerate it away (the worker pods tolerate only nvidia.com/gpu).
FABRIC_FAILED_KEY = "aiinfra.io/fabric-test-failed"
# Every node of aiinfra's simulator carries it (value: the definition's name); the fabric test marks nodes
# from simulated readings only where every GPU node has it.
SIM_LABEL = "aiinfra.io/sim"
FABRIC_FAILED_DETAIL_ANNOTATION = "aiinfra.io/fabric-test-failed-detail"
"""Beside the mark: which level found what, in words (e.g. ``level 3: slow rail rail2 (simulated data plane)``);
a label value cannot hold that much."""
