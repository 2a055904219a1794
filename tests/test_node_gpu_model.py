"""``aiinfra node check`` with a definition names a GPU model that is not the definition's."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiinfra.cli import main
from aiinfra.node.checks.gpu_model import gpu_model_matches

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def test_recorded_h200_node_checked_against_the_a800_definition(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["node", "check", "--cluster", str(ROOT / "clusters" / "a800-ib.yaml"),
            "--sysfs-root", str(FIXTURES / "sysfs" / "h200-vm"),
            "--nvml-recording", str(FIXTURES / "nvml" / "h200x2-recorded.json")]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "error    node: GPUs are NVIDIA H200; the definition expects A800-SXM4-80GB" in out
    assert "2 GPUs visible, the definition expects 8" in out  # reported next to it, as before


def test_matching_models_are_not_reported(capsys: pytest.CaptureFixture[str]) -> None:
    for machine, nvml, cluster in (("a800-ib", "a800-8gpu", "a800-ib"), ("roce-h100", "h100-8gpu", "roce")):
        main(["node", "check", "--cluster", str(ROOT / "clusters" / f"{cluster}.yaml"),
              "--sysfs-root", str(FIXTURES / "sysfs" / machine),
              "--nvml-recording", str(FIXTURES / "nvml" / f"{nvml}.json")])
        assert "GPUs are" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "model", "product", "same"),
    [
        ("NVIDIA A800-SXM4-80GB", "A800-SXM4-80GB", "NVIDIA-A800-SXM4-80GB", True),
        ("NVIDIA H100 80GB HBM3", "H100-SXM5-80GB", "NVIDIA-H100-80GB-HBM3", True),
        ("NVIDIA A100-SXM4-80GB", "A800-SXM4-80GB", "NVIDIA-A800-SXM4-80GB", False),
        ("NVIDIA H200", "H100-SXM5-80GB", "NVIDIA-H100-80GB-HBM3", False),
    ],
)
def test_model_matching(name: str, model: str, product: str, same: bool) -> None:
    assert gpu_model_matches(name, model, product) is same
