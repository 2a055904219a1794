"""`aiinfra net` from the command line, and what the node-side entry point imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .hostfs import Port, host_tree, proc_bonding, write_bond

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("ray", "torch", "kubernetes", "pydantic")


def _aiinfra(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aiinfra", *args], capture_output=True, text=True, cwd=ROOT,
                          check=False)


def test_render_writes_netplan_and_plan_per_node(tmp_path: Path) -> None:
    run = _aiinfra("net", "render", "clusters/a800-ib.yaml", "-o", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir())[:2] == ["gpu-01.plan.json", "gpu-01.yaml"]
    golden = ROOT / "tests/golden/net/a800-ib/gpu-01.yaml"
    assert (tmp_path / "gpu-01.yaml").read_text() == golden.read_text()


def test_unknown_node_is_bad_input() -> None:
    run = _aiinfra("net", "render", "clusters/a800-ib.yaml", "--node", "gpu-99")
    assert run.returncode == 2 and "no node 'gpu-99' (nodes: gpu-01, gpu-02, gpu-03, gpu-04)" in run.stderr


def test_apply_outside_root_needs_dry_run(tmp_path: Path) -> None:
    run = _aiinfra("net", "apply", "clusters/a800-ib.yaml", "--node", "gpu-01", "--root", str(tmp_path))
    assert run.returncode == 2 and "only with --dry-run" in run.stderr


def test_verify_json_on_a_host_tree(tmp_path: Path) -> None:
    root = host_tree(tmp_path / "h", mtus={"bond0": 9000, "ens1f0np0": 9000, "ens1f1np1": 9000,
                                            "ibp26s0": 4092, "ibp63s0": 4092, "ibp159s0": 4092, "ibp191s0": 2044})
    write_bond(root, proc_bonding([Port("ens1f0np0", "b8:ce:f6:10:00:01"), Port("ens1f1np1", "b8:ce:f6:10:00:02")]))
    run = _aiinfra("net", "verify", "clusters/a800-ib.yaml", "--node", "gpu-01", "--root", str(root), "--json")
    assert run.returncode == 1, run.stderr
    doc = json.loads(run.stdout)
    assert [(f["code"], f["device"]) for f in doc["findings"]] == [("mtu", "rail3/ibp191s0")]


def test_node_side_entry_point_imports_no_ray_torch_kubernetes_or_pydantic(tmp_path: Path) -> None:
    """`aiinfra net apply --plan` on a bare node: python3 and PyYAML only."""
    rendered = tmp_path / "rendered"
    assert _aiinfra("net", "render", "clusters/a800-ib.yaml", "-o", str(rendered)).returncode == 0
    (tmp_path / "root" / "etc" / "netplan").mkdir(parents=True)
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['aiinfra', 'net', 'verify', '--plan', {str(rendered / 'gpu-01.plan.json')!r},"
        f" '--root', {str(tmp_path / 'root')!r}]\n"
        "try:\n    runpy.run_module('aiinfra', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exc:\n    code = exc.code\n"
        "import aiinfra.net.host_apply, aiinfra.net.host_verify, aiinfra.net.bonding, aiinfra.net.plan\n"
        f"print(code, sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False)
    assert run.stdout.strip().splitlines()[-1] == "1 []", run.stdout + run.stderr


def test_apply_from_the_definition_imports_no_ray_torch_or_kubernetes(tmp_path: Path) -> None:
    """Without --plan the inventory is validated on the node (pydantic), still without Ray, torch or Kubernetes."""
    probe = (
        "import sys\nfrom aiinfra.cli import main\n"
        f"code = main(['net', 'apply', 'clusters/a800-ib.yaml', '--node', 'gpu-01', '--root', {str(tmp_path)!r},"
        " '--dry-run'])\n"
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'ray', 'torch', 'kubernetes'}),"
        " any(m.startswith('aiinfra.launch') for m in sys.modules))\n"
    )
    (tmp_path / "etc" / "netplan").mkdir(parents=True)
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False)
    assert run.stdout.strip().splitlines()[-1] == "0 [] False", run.stdout + run.stderr


def test_other_commands_still_work() -> None:
    assert _aiinfra("validate", "clusters/a800-ib.yaml").returncode == 0
    code = "import aiinfra.launch.cluster, aiinfra; print(callable(aiinfra.launch), aiinfra.ClusterDefinition.__name__)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert run.stdout.split() == ["True", "ClusterDefinition"]
    assert "net" in _aiinfra("--help").stdout


def test_setup_network_script_dry_run_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "etc" / "netplan").mkdir(parents=True)
    run = subprocess.run(["bash", str(ROOT / "scripts/setup-network.sh"), "--node", "gpu-02", "--root", str(tmp_path),
                          "--dry-run"], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert "+      addresses: [10.10.0.22/24]" in run.stdout and "nothing was changed" in run.stdout
    assert [p.relative_to(tmp_path).as_posix() for p in sorted(tmp_path.rglob("*"))] == ["etc", "etc/netplan"]
    bad = subprocess.run(["bash", str(ROOT / "scripts/setup-network.sh"), "--node", "nobody", "--dry-run"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "no node 'nobody'" in bad.stderr and "Traceback" not in bad.stderr
