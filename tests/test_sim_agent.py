"""The node agent's pod-spec handling, without a cluster: env, command mapping, volumes, probes, hosts."""

from __future__ import annotations

import base64
import http.server
import threading
from pathlib import Path
from typing import Any

import pytest

from aiinfra.sim.agent import podspec, volumes
from aiinfra.sim.agent.main import hosts_entries
from aiinfra.sim.agent.probes import Probe, probe_plan
from aiinfra.sim.agent.sandbox import cri_line

POD: dict[str, Any] = {
    "metadata": {"name": "w", "namespace": "ns", "uid": "u", "labels": {"ray.io/cluster": "c"}},
    "spec": {"nodeName": "n0"},
    "status": {"podIP": "10.245.0.3"},
}
OBJECTS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("secrets", "ns", "tok"): {"data": {"t": base64.b64encode(b"s3cret").decode()}},
    ("configmaps", "ns", "cm"): {"data": {"a": "1", "b": "2"}},
}


def lookup(kind, ns, name):
    return OBJECTS.get((kind, ns, name))


def test_env_sources_resolve_as_the_kubelet_does():
    c = {
        "name": "x",
        "resources": {"limits": {"cpu": "1500m", "memory": "2Gi"}},
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
        "env": [
            {"name": "T", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "t"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "0"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "URL", "value": "http://$(NODE):$(CM_a)/$(UNKNOWN)"},
        ],
    }
    env = podspec.resolve_env(POD, c, lookup)
    assert env == {"CM_a": "1", "CM_b": "2", "T": "s3cret", "NODE": "n0", "CPU": "2", "MEM": "2048",
                   "URL": "http://n0:1/$(UNKNOWN)"}  # fmt: skip


def test_a_missing_secret_is_a_config_error_unless_optional():
    ref: dict[str, Any] = {"name": "T", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "t"}}}
    with pytest.raises(podspec.ConfigError, match='secret "nope" not found'):
        podspec.resolve_env(POD, {"env": [ref]}, lookup)
    ref["valueFrom"]["secretKeyRef"]["optional"] = True
    assert podspec.resolve_env(POD, {"env": [ref]}, lookup) == {}
    with pytest.raises(podspec.ConfigError):
        podspec.resolve_env(POD, {"envFrom": [{"secretRef": {"name": "nope"}}]}, lookup)


def test_image_commands_run_with_the_local_ray():
    argv = podspec.local_argv({"name": "c", "command": ["/bin/bash", "-lc", "--"], "args": ["ray start --head"]}, {})
    assert argv[:3] == ["/bin/bash", "-lc", "--"]
    assert argv[3] == f'export PATH="{podspec.BIN}:$PATH"; ray start --head'
    assert podspec.local_argv({"name": "c", "command": ["ray", "status"]}, {})[0] == f"{podspec.BIN}/ray"
    with pytest.raises(podspec.ConfigError, match="entrypoint"):
        podspec.local_argv({"name": "c"}, {})
    assert podspec.base_env(POD)["AIINFRA_FAKE_GPUS"] == "1"


def test_volumes_become_mounts_and_files(tmp_path):
    pod: dict[str, Any] = {
        "metadata": {"namespace": "ns"},
        "spec": {
            "volumes": [
                {"name": "cfg", "configMap": {"name": "cm", "items": [{"key": "a", "path": "sub/a.txt"}]}},
                {"name": "opt", "configMap": {"name": "absent", "optional": True}},
                {"name": "sys", "hostPath": {"path": "/sys"}},
                {"name": "scratch", "emptyDir": {}},
            ],
            "containers": [
                {
                    "volumeMounts": [
                        {"name": "cfg", "mountPath": "/etc/cfg"},
                        {"name": "opt", "mountPath": "/etc/opt"},
                        {"name": "sys", "mountPath": "/host/sys"},
                        {"name": "scratch", "mountPath": "/scratch"},
                    ]
                }
            ],
        },
    }
    mounts = volumes.mounts(pod, tmp_path, lookup, tmp_path / "tree")
    assert (tmp_path / "volumes" / "cfg" / "sub" / "a.txt").read_text() == "1"
    by_target = {m["target"]: m for m in mounts}
    assert by_target["/etc/cfg"]["readonly"] and by_target["/host/sys"]["source"] == f"{tmp_path}/tree/sys"
    assert by_target["/scratch"]["source"] == f"{tmp_path}/volumes/scratch"
    pod["spec"]["volumes"][1]["configMap"]["optional"] = False
    with pytest.raises(podspec.ConfigError, match="FailedMount"):
        volumes.mounts(pod, tmp_path, lookup, None)


def test_nfs_and_pvc_volumes_are_one_folder_shared_by_every_pod_of_the_simulator(tmp_path):
    def pod(uid: str) -> dict[str, Any]:
        return {
            "metadata": {"namespace": "ns", "uid": uid},
            "spec": {
                "volumes": [{"name": "n", "nfs": {"server": "nfs.lab", "path": "/export/ray"}},
                            {"name": "c", "persistentVolumeClaim": {"claimName": "ckpt", "readOnly": True}}],
                "containers": [{"volumeMounts": [{"name": "n", "mountPath": "/mnt/n"},
                                                 {"name": "c", "mountPath": "/mnt/c"}]}],
            },
        }  # fmt: skip

    shared = tmp_path / "shared-storage"
    first = {m["target"]: m for m in volumes.mounts(pod("a"), tmp_path / "a", lookup, None, shared)}
    second = {m["target"]: m for m in volumes.mounts(pod("b"), tmp_path / "b", lookup, None, shared)}
    assert first == second  # two pods (on any node): the same folders
    assert first["/mnt/n"]["source"] == f"{shared}/nfs/nfs.lab/export/ray" and not first["/mnt/n"]["readonly"]
    assert first["/mnt/c"]["source"] == f"{shared}/pvc/ns/ckpt" and first["/mnt/c"]["readonly"]
    assert (shared / "nfs" / "nfs.lab" / "export" / "ray").is_dir()
    assert volumes.mounts(pod("c"), tmp_path / "c", lookup, None) == []  # no shared folder: not mounted


def probe(spec: dict[str, Any], ports: dict[str, int] | None = None) -> Probe:
    plan = probe_plan(spec, ports or {})
    assert plan is not None
    return Probe.from_plan(plan)


def test_probes_pass_and_fail():
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        assert probe({"httpGet": {"port": "web", "path": "/"}}, {"web": port}).check({})
        assert probe({"tcpSocket": {"port": port}}, {}).check({})
        assert probe({"exec": {"command": ["true"]}}, {}).check({"PATH": "/usr/bin:/bin"})
        assert not probe({"exec": {"command": ["false"]}}, {}).check({"PATH": "/usr/bin:/bin"})
    finally:
        server.shutdown()


def test_service_names_resolve_to_the_selected_pod_and_logs_are_cri_lines():
    svc = {"metadata": {"name": "c-head-svc", "namespace": "ns"}, "spec": {"selector": {"ray.io/cluster": "c"}}}
    assert hosts_entries([svc], [POD]) == {
        "ns": ["10.245.0.3\tc-head-svc.ns.svc.cluster.local c-head-svc.ns.svc c-head-svc.ns c-head-svc"]
    }
    assert cri_line("stderr", b"partial", 1.5).endswith(b" stderr P partial\n")


def test_a_private_tmp_still_shows_the_image_paths_below_it(tmp_path):
    """A checkout under /tmp (a CI clone) stays importable in pods, read-only; the rest of /tmp is the pod's own."""
    import os
    import subprocess
    import sys

    if os.geteuid() != 0 or not str(tmp_path).startswith("/tmp/"):
        pytest.skip("needs root (a mount namespace) and a pytest folder under /tmp")
    image = tmp_path / "checkout"
    image.mkdir()
    (image / "marker").write_text("x")
    (tmp_path / "other").write_text("y")
    code = (
        "import os, sys\n"
        "from aiinfra.sim.agent.pod_mounts import private_tmp\n"
        "private_tmp([sys.argv[1]])\n"
        "print(os.path.exists(os.path.join(sys.argv[1], 'marker')), os.path.exists(sys.argv[2]))\n"
        "try:\n"
        "    open(os.path.join(sys.argv[1], 'new'), 'w')\n"
        "except OSError as e:\n"
        "    print('read-only', e.errno == 30)\n"
    )
    argv = [sys.executable, "-c", code, str(image), str(tmp_path / "other")]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", *argv], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "read-only", "True"]
    assert (tmp_path / "other").exists() and not (image / "new").exists()  # the host's /tmp untouched
