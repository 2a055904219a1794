"""Bad cluster definitions: every message names file, line and field; exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aiinfra.definition.loader import load_definition
from aiinfra.errors import DefinitionError

ROOT = Path(__file__).resolve().parent.parent
BASE = (ROOT / "clusters" / "a800-ib.yaml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        load_definition(path)
    return [str(p) for p in info.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = BASE.replace("  per_node: 8", "  per_node: [8")
    path = write(tmp_path, text)
    (msg,) = errors_of(path)
    assert msg.startswith(f"{path}:")
    assert "invalid YAML" in msg


def test_unknown_key(tmp_path: Path) -> None:
    text = BASE.replace("  memory_gib: 80\n", "  memory_gib: 80\n  memroy: 3\n")
    path = write(tmp_path, text)
    assert errors_of(path) == [f"{path}:{line_of(text, 'memroy')}: gpu.memroy: unknown field"]


def test_wrong_type(tmp_path: Path) -> None:
    text = BASE.replace("  per_node: 8", "  per_node: eight")
    path = write(tmp_path, text)
    (msg,) = errors_of(path)
    assert msg.startswith(f"{path}:{line_of(text, 'per_node')}: gpu.per_node: ")
    assert "'eight'" in msg


def test_duplicate_hca(tmp_path: Path) -> None:
    text = BASE.replace("hca: mlx5_4", "hca: mlx5_3")
    path = write(tmp_path, text)
    assert errors_of(path) == [f"{path}:{line_of(text, 'rail2')}: rails[2].hca: duplicate 'mlx5_3' (also rails[1])"]


def test_duplicate_rail_name(tmp_path: Path) -> None:
    text = BASE.replace("name: rail3, hca", "name: rail0, hca")
    path = write(tmp_path, text)
    assert f"{path}:{line_of(text, 'hca: mlx5_5')}: rails[3].name: duplicate 'rail0' (also rails[0])" in errors_of(path)


def test_gpu_out_of_range_and_served_twice(tmp_path: Path) -> None:
    text = BASE.replace("gpus: [6, 7]", "gpus: [5, 8]")
    path = write(tmp_path, text)
    line = line_of(text, "hca: mlx5_5")
    assert errors_of(path) == [
        f"{path}:{line}: rails[3].gpus[0]: GPU 5 already served by rails[2]",
        f"{path}:{line}: rails[3].gpus[1]: GPU index 8 out of range (gpu.per_node is 8)",
    ]


def test_roce_rail_without_gid(tmp_path: Path) -> None:
    text = (ROOT / "clusters" / "roce.yaml").read_text(encoding="utf-8").replace("  gid_index: auto\n", "")
    path = write(tmp_path, text)
    problems = errors_of(path)
    assert len(problems) == 4
    assert problems[0].startswith(f"{path}:{line_of(text, 'name: roce0')}: rails[0].gid_index: a RoCE rail needs")


def test_sriov_rail_without_resource(tmp_path: Path) -> None:
    text = (ROOT / "clusters" / "roce.yaml").read_text(encoding="utf-8")
    text = text.replace("resource_kind: sriov, resource: nvidia.com/sriov_roce1,", "resource_kind: sriov,")
    path = write(tmp_path, text)
    assert errors_of(path) == [
        f"{path}:{line_of(text, 'name: roce1')}: rails[1].resource: an SR-IOV rail needs the VF resource name"
        " (e.g. nvidia.com/sriov_rail0)"
    ]


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = BASE.replace("  per_node: 8\n", "  per_node: 8\n  per_node: 4\n")
    path = write(tmp_path, text)
    assert errors_of(path) == [f"{path}:{line_of(text, 'per_node: 4')}: gpu.per_node: key given twice"]


def test_missing_file() -> None:
    assert "cannot read" in errors_of(Path("no/such.yaml"))[0]


def test_cli_exit_code_2_and_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("hca: mlx5_4", "hca: mlx5_3"))
    proc = subprocess.run(
        [sys.executable, "-m", "aiinfra", "validate", str(path)], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "rails[2].hca: duplicate 'mlx5_3'" in proc.stderr


def test_render_bad_input_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "name: [")
    proc = subprocess.run([sys.executable, "-m", "aiinfra", "render", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "invalid YAML" in proc.stderr
    assert proc.stdout == ""


def test_unknown_nccl_variable_warns(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("NCCL_IB_QPS_PER_CONNECTION", "NCCL_IB_QPS_PER_CONECTION"))
    proc = subprocess.run([sys.executable, "-m", "aiinfra", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "nccl.env.NCCL_IB_QPS_PER_CONECTION: not a known NCCL variable" in proc.stderr
