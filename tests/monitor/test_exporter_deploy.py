"""The rendered exporter deployment: goldens and least-privilege properties."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT

from aiinfra.dcgm_exporter_config import DCGM_CONFIGMAP, DCGM_COUNTERS
from aiinfra.definition.loader import load_definition
from aiinfra.monitor.exporter_deploy import node_exporter_values, render_exporter
from aiinfra.monitor.stack.values import MonitorOptions, stack_values
from aiinfra.net.gpu_operator import gpu_operator_values


@pytest.mark.parametrize("cluster", ["a800-ib", "h100-ndr"])
def test_deploy_golden(cluster: str, golden) -> None:
    d = load_definition(ROOT / "clusters" / f"{cluster}.yaml")
    golden(f"monitor/exporter-{cluster}.yaml", yaml.safe_dump_all(render_exporter(d), sort_keys=False))


@pytest.mark.parametrize("cluster", ["a800-ib", "h100-ndr"])
def test_the_upstream_exporters_settings_reach_what_is_deployed(cluster: str) -> None:
    """node_exporter's collectors go into the stack's values, dcgm-exporter's counters file into the GPU Operator
    release (the chart creates its ConfigMap): nothing rendered is left unused."""
    d = load_definition(ROOT / "clusters" / f"{cluster}.yaml")
    node = stack_values(MonitorOptions(), d)["prometheus-node-exporter"]
    assert node["extraArgs"] == node_exporter_values(d)["extraArgs"] and "--collector.infiniband" in node["extraArgs"]
    assert gpu_operator_values(d)["dcgmExporter"]["config"] == {"name": DCGM_CONFIGMAP, "create": True,
                                                                "data": DCGM_COUNTERS}


def test_daemonset_is_least_privilege() -> None:
    ds = render_exporter(load_definition(ROOT / "clusters" / "a800-ib.yaml"))[1]
    pod = ds["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    assert c["securityContext"]["privileged"] is False and c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["securityContext"]["runAsNonRoot"] and c["securityContext"]["readOnlyRootFilesystem"]
    assert all(m["readOnly"] for m in c["volumeMounts"])
    assert {v["hostPath"]["path"] for v in pod["volumes"]} == {"/sys", "/proc"}
    assert pod["runtimeClassName"] == "nvidia" and "resources" in c and "nvidia.com/gpu" not in str(c["resources"])


def test_dcgm_counters_add_what_the_default_leaves_out() -> None:
    csv = DCGM_COUNTERS
    fields = [line.split(",")[0] for line in csv.splitlines() if line and not line.startswith("#")]
    assert len(fields) == len(set(fields))
    for f in ("DCGM_EXP_XID_ERRORS_COUNT", "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "DCGM_FI_DEV_ROW_REMAP_PENDING",
              "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL", "DCGM_FI_DEV_THERMAL_VIOLATION"):  # fmt: skip
        assert f in fields
