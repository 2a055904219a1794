"""``aiinfra render`` prints everything ``launch()`` creates from a definition but the token Secret:
the RayCluster, then its NetworkPolicies, as one YAML stream (golden: tests/golden/render/)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from aiinfra.cli import main
from aiinfra.contract import ROLE_LABEL

ROOT = Path(__file__).resolve().parent.parent
A800 = ROOT / "clusters" / "a800-ib.yaml"
ARGS = ["--workers", "4", "--namespace", "train"]


def test_render_prints_raycluster_and_network_policies(
    capsys: pytest.CaptureFixture[str], golden: Callable[[str, str], None]
) -> None:
    assert main(["render", str(A800), *ARGS]) == 0
    out = capsys.readouterr().out
    golden("render/a800-ib.yaml", out)
    docs = list(yaml.safe_load_all(out))
    assert [(o["kind"], o["metadata"]["name"], o["metadata"]["namespace"]) for o in docs] == [
        ("RayCluster", "a800-ib", "train"),
        ("NetworkPolicy", "a800-ib-ray-head", "train"),
        ("NetworkPolicy", "a800-ib-ray-workers", "train"),
    ]
    assert "Secret" not in {o["kind"] for o in docs}  # the token is made at launch, never printed


def test_render_output_dir_writes_both_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(A800), *ARGS, "-o", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(tmp_path / "raycluster-a800-ib.yaml"), str(tmp_path / "networkpolicy-a800-ib.yaml")]
    policies = list(yaml.safe_load_all((tmp_path / "networkpolicy-a800-ib.yaml").read_text()))
    assert [p["spec"]["podSelector"]["matchLabels"][ROLE_LABEL] for p in policies] == ["head", "worker"]


def test_render_without_policies_when_the_definition_opts_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = A800.read_text()
    assert "    clients: [{namespace: notebooks}]\n" in text
    definition = tmp_path / "open.yaml"
    definition.write_text(text.replace("    clients: [{namespace: notebooks}]\n", "    network_policy: false\n"))
    assert main(["render", str(definition), "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["raycluster-a800-ib.yaml"]
    capsys.readouterr()
    assert main(["render", str(definition)]) == 0
    assert [o["kind"] for o in yaml.safe_load_all(capsys.readouterr().out)] == ["RayCluster"]


def test_render_of_a_local_definition_names_file_line_and_field(capsys: pytest.CaptureFixture[str]) -> None:
    """Found by benchmarks/fuzz_definitions.py: a renderer's precondition named the file without a line."""
    local = ROOT / "clusters" / "local.yaml"
    assert main(["render", str(local)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"aiinfra: {local}:5: backend: 'local' has no Kubernetes RayCluster"), err
