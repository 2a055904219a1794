"""Bad cluster definitions: every message names file, line and field; exit code 2; no traceback."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiinfra.cli import main
from aiinfra.definition.loader import load_definition
from aiinfra.errors import DefinitionError

ROOT = Path(__file__).resolve().parent.parent
BASE = (ROOT / "clusters" / "a800-ib.yaml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "x.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    """Every message, each checked to start with 'file:line:' (a message without a line fails the test)."""
    with pytest.raises(DefinitionError) as info:
        load_definition(path)
    messages = [str(p) for p in info.value.problems]
    for problem, msg in zip(info.value.problems, messages, strict=True):
        assert problem.line is not None and problem.line >= 1, f"no line in {msg!r}"
        assert re.match(rf"{re.escape(str(path))}:{problem.line}: ", msg), msg
    return messages


def located(path: Path) -> list[tuple[int, str, str]]:
    """(line, field path, message) of every problem, all of them located."""
    errors_of(path)
    with pytest.raises(DefinitionError) as info:
        load_definition(path)
    return [(p.line or 0, p.path, p.message) for p in info.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = BASE.replace("  per_node: 8", "  per_node: [8")
    path = write(tmp_path, text)
    (msg,) = errors_of(path)
    # PyYAML notices the unclosed '[' where the next key starts: the line after it
    assert msg.startswith(f"{path}:{line_of(text, 'per_node') + 1}: invalid YAML")


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
    problems = located(path)
    assert [(line, field) for line, field, _ in problems] == [
        (line_of(text, f"name: roce{i}"), f"rails[{i}].gid_index") for i in range(4)
    ]
    assert all(msg.startswith("a RoCE rail needs a GID index") for _, _, msg in problems)


def test_sriov_rail_without_resource(tmp_path: Path) -> None:
    text = (ROOT / "clusters" / "roce.yaml").read_text(encoding="utf-8")
    text = text.replace("resource_kind: sriov, resource: nvidia.com/sriov_roce1,", "resource_kind: sriov,")
    path = write(tmp_path, text)
    assert errors_of(path) == [
        f"{path}:{line_of(text, 'name: roce1')}: rails[1].resource: an SR-IOV rail needs the VF resource name"
        " (e.g. nvidia.com/sriov_rail0)"
    ]


NFS = "    nfs: {server: nfs.a800.lab, path: /export/ray}\n"


@pytest.mark.parametrize(
    ("replacement", "needle", "field", "words"),
    [
        (NFS.replace("/export/ray", "export/ray"), "export/ray", "ray.storage.nfs.path", "absolute path"),
        ("    uri: file:///data/ckpt\n", "file:///", "ray.storage.uri", "a path on the pods' own disks is not shared"),
        ("    uri: s3://b/p\n    pvc: c\n", "storage:", "ray.storage", "exactly one of pvc, nfs or uri (got pvc, uri)"),
        ("    nfs: {server: nfs.a800.lab}\n", "nfs.a800.lab", "ray.storage.nfs.path", "required field is missing"),
        (NFS + "    mount: /x\n", "mount: /x", "ray.storage.mount", "unknown field"),
    ],
    ids=["relative-nfs-path", "local-uri", "two-kinds", "nfs-without-path", "unknown-key"],
)
def test_bad_checkpoint_storage(tmp_path: Path, replacement: str, needle: str, field: str, words: str) -> None:
    assert NFS in BASE
    text = BASE.replace(NFS, replacement)
    if "mount: /x" in replacement:
        text = text.replace("    mount_path: /mnt/ray-storage\n", "")
    path = write(tmp_path, text)
    (problem,) = located(path)
    assert problem[:2] == (line_of(text, needle), field), problem
    assert words in problem[2], problem


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = BASE.replace("  per_node: 8\n", "  per_node: 8\n  per_node: 4\n")
    path = write(tmp_path, text)
    assert errors_of(path) == [f"{path}:{line_of(text, 'per_node: 4')}: gpu.per_node: key given twice"]


def test_missing_file() -> None:
    # The one message without a line: there is no file to have lines.
    with pytest.raises(DefinitionError) as info:
        load_definition(Path("no/such.yaml"))
    assert [str(p) for p in info.value.problems] == ["no/such.yaml: cannot read: No such file or directory"]


def _bomb(levels: int, width: int) -> str:
    rows = [f"b0: &b0 [{', '.join(['lol'] * width)}]"]
    rows += [f"b{k}: &b{k} [{', '.join([f'*b{k - 1}'] * width)}]" for k in range(1, levels)]
    return "\n".join(rows) + "\n"


_PER_NODE = line_of(BASE, "per_node")
_ENV_LINE = line_of(BASE, "NCCL_IB_QPS_PER_CONNECTION")
# (case, file content, expected line, field path, words the message must contain). One per class of bad
# input the fuzz run found (issue 9); each must be exit 2 with file:line: field and no traceback.
BAD_INPUTS = [
    ("latin-1", BASE.replace("description: 8x", "description: caf\xe9 8x").encode("latin-1"),
     line_of(BASE, "description"), "", "not UTF-8: byte 0xe9"),
    ("utf-16", BASE.encode("utf-16"), 1, "", "UTF-16"),
    ("binary", bytes(range(256)), 2, "", "not UTF-8"),
    ("python tag", BASE.replace("per_node: 8", "per_node: !!python/object/apply:os.system [id]"), _PER_NODE,
     "gpu.per_node", "tag '!!python/object/apply:os.system' is not allowed"),
    ("unknown tag", BASE.replace("per_node: 8", "per_node: !foo 8"), _PER_NODE, "gpu.per_node", "tag '!foo'"),
    ("merge of a scalar", BASE.replace("  per_node: 8", "  <<: 5\n  per_node: 8"), _PER_NODE, "", "merging"),
    ("bad !!float", BASE.replace("per_node: 8", "per_node: !!float abc"), _PER_NODE, "gpu.per_node",
     "'abc' is not a number"),
    ("bad !!bool", BASE.replace("per_node: 8", "per_node: !!bool maybe"), _PER_NODE, "gpu.per_node",
     "'maybe' is not a boolean"),
    ("impossible date", BASE.replace("per_node: 8", "per_node: 2024-02-30"), _PER_NODE, "gpu.per_node",
     "'2024-02-30' is not a date"),
    ("5000-digit integer", BASE.replace("per_node: 8", "per_node: " + "9" * 5000), _PER_NODE, "gpu.per_node",
     "an integer of 5000 digits is too long"),
    ("1000 deep", BASE + "deep: " + "[" * 1000 + "]" * 1000 + "\n", BASE.count("\n") + 1, "", "nested deeper"),
    ("complex key", BASE + "? [a, b]\n: 1\n", BASE.count("\n") + 1, "", "a key must be a name, not a list"),
    ("null key", BASE.replace("  per_node: 8", "  ~: 8"), _PER_NODE, "gpu", "empty key"),
    ("boolean key", BASE.replace("  per_node: 8", "  yes: 8"), _PER_NODE, "gpu", "reads as a bool"),
    ("NUL", BASE.replace("per_node: 8", "per_node: 8\x00"), _PER_NODE, "", "control character U+0000"),
    ("escape character", BASE.replace("per_node: 8", "per_node: \x1b[1m8"), _PER_NODE, "", "U+001B"),
    ("alias bomb", _bomb(9, 9) + BASE, 5, "b4", "expands to more than"),
    ("recursive alias", BASE + "r: &r [*r]\n", BASE.count("\n") + 1, "r", "recursive"),
    ("yes for a number", BASE.replace("per_node: 8", "per_node: yes"), _PER_NODE, "gpu.per_node",
     "valid integer (got True)"),
    ("quoted number", BASE.replace("per_node: 8", 'per_node: "8"'), _PER_NODE, "gpu.per_node",
     "valid integer (got '8')"),
    ("nvlink .inf", BASE.replace("nvlink_gb_s: 200", "nvlink_gb_s: .inf"), line_of(BASE, "nvlink_gb_s"),
     "gpu.nvlink_gb_s", "finite number"),
    ("rate .nan", BASE.replace("rate_gbps: 200, gpus: [0, 1]", "rate_gbps: .nan, gpus: [0, 1]"),
     line_of(BASE, "rail0"), "rails[0].rate_gbps", "finite number"),
    ("number as env value", BASE.replace('NCCL_IB_QPS_PER_CONNECTION: "2"', "NCCL_IB_QPS_PER_CONNECTION: 2"),
     _ENV_LINE, "nccl.env.NCCL_IB_QPS_PER_CONNECTION", "valid string"),
    ("two documents", BASE + "---\nname: x\n", BASE.count("\n") + 1, "", "single document"),
    ("not a mapping", "- a\n- b\n", 1, "", "expected a mapping"),
]


@pytest.mark.parametrize(("content", "line", "field", "words"), [c[1:] for c in BAD_INPUTS],
                         ids=[c[0] for c in BAD_INPUTS])
def test_each_class_of_bad_input_is_located(
    tmp_path: Path, content: str | bytes, line: int, field: str, words: str
) -> None:
    path = write(tmp_path, content)
    started = time.monotonic()
    problems = located(path)
    assert time.monotonic() - started < 5  # refused, not expanded (an alias bomb is 10^9 nodes)
    assert (problems[0][0], problems[0][1]) == (line, field), problems
    assert words in problems[0][2], problems
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", str(path)])
    assert code == 2 and out.getvalue() == ""
    assert "Traceback" not in err.getvalue() and "internal error" not in err.getvalue()
    assert err.getvalue().startswith(f"aiinfra: {path}:{line}: ")


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


def test_unknown_nccl_variable_warns_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("NCCL_IB_QPS_PER_CONNECTION", "NCCL_IB_QPS_PER_CONECTION"))
    proc = subprocess.run([sys.executable, "-m", "aiinfra", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stderr == (
        f"warning: {path}:{_ENV_LINE}: nccl.env.NCCL_IB_QPS_PER_CONECTION: not a known NCCL variable (typo?)\n"
    )
