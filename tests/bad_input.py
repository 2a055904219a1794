"""Generators of hostile input for every command, and the check every outcome must pass.

Shared by tests/test_bad_input_fuzz.py (hypothesis drives the choices, so failures
shrink) and benchmarks/fuzz_definitions.py (a seeded ``random.Random`` drives them,
for 10,000+ cases). A :class:`Chooser` is the only source of choices.

The rule checked (:func:`check_outcome`): exit code 0, 1 or 2; no traceback and no
"internal error" anywhere; every message about a definition names ``file:line:``.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from aiinfra.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
BASES = {p.name: p.read_bytes() for p in sorted((ROOT / "clusters").glob("*.yaml"))}
T = TypeVar("T")


class Chooser(Protocol):
    def integer(self, lo: int, hi: int) -> int: ...
    def choice(self, options: Sequence[T]) -> T: ...


class RandomChooser:
    """Choices from a seeded random.Random (the benchmark)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]


# ---------------------------------------------------------------- definitions

_TAGS = ["!!python/object/apply:os.system ['true']", "!!python/name:os.system", "!foo", "!!float abc", "!!bool maybe",
         "!!int 12x", "!!binary aGVsbG8=", "!!set {a, b}", "!!timestamp 2024-02-30", "!!omap [a: 1]", "!<tag:x> 1",
         "!!str", "!!null x", "!!map [1]", "!!seq {a: 1}"]
_VALUES = ["yes", "no", "on", '"8"', "'8'", "8.0", "1e400", ".inf", "-.inf", ".nan", "-1", "0", "null", "~", "[]", "{}",
           "2024-02-30", "2024-01-01", "0x1F", "0o17", "[a, b]", "{a: 1}", "9" * 5000, "-" + "9" * 4400, "1_000",
           "'\\x00'", '"\\u0000"', "&a 1", "*nosuch", "<<: 5", "true", "12:30:00", "1.5", "''", '"', "[", "{", "}",
           "a: b: c", "- x", "|", ">", "%TAG ! x", "@x", "`x", "é", "\u202e", "\U0001F600"]
_KEYS = ["? [a, b]\n: 1", "? {a: 1}\n: 1", "~: 1", "null: 1", "1: x", "true: x", "yes: x", "2024-01-01: x",
         "<<: {name: x}", "<<: [*a]", "<<: 5", "'': 1", "source: evil", "? !!python/tuple [1, 2]\n: 1"]
_CONTROL = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\ufeff", "\u2028", "\ud800", "\x0b", "\x0c"]
_ENCODINGS = ["latin-1", "utf-16", "utf-16-be", "utf-32", "cp1252", "utf-8-sig", "shift_jis"]
_VALUE_AT = re.compile(rb"(?<=: )[^,{}\[\]\n]+")


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def flip_byte(c: Chooser, data: bytes) -> bytes:
    if not data:
        return b"\xff"
    i = c.integer(0, len(data) - 1)
    return data[:i] + bytes([data[i] ^ c.choice([1, 2, 4, 8, 16, 32, 64, 128, 255])]) + data[i + 1 :]


def truncate(c: Chooser, data: bytes) -> bytes:
    return data[: c.integer(0, len(data))]


def insert_bytes(c: Chooser, data: bytes) -> bytes:
    i = c.integer(0, len(data))
    junk = bytes(c.integer(0, 255) for _ in range(c.integer(1, 8)))
    return data[:i] + junk + data[i:]


def delete_line(c: Chooser, data: bytes) -> bytes:
    lines = _lines(data)
    del lines[c.integer(0, len(lines) - 1)]
    return b"\n".join(lines)


def duplicate_line(c: Chooser, data: bytes) -> bytes:
    lines = _lines(data)
    i = c.integer(0, len(lines) - 1)
    lines.insert(i, lines[i])
    return b"\n".join(lines)


def reindent_line(c: Chooser, data: bytes) -> bytes:
    lines = _lines(data)
    i = c.integer(0, len(lines) - 1)
    lines[i] = c.choice([b"", b" ", b"   ", b"\t", b"- "]) + lines[i].lstrip()
    return b"\n".join(lines)


def _replace_value(c: Chooser, data: bytes, new: str) -> bytes:
    spots = list(_VALUE_AT.finditer(data))
    if not spots:
        return data + b"\nx: " + new.encode("utf-8", "surrogatepass")
    m = c.choice(spots)
    return data[: m.start()] + new.encode("utf-8", "surrogatepass") + data[m.end() :]


def swap_type(c: Chooser, data: bytes) -> bytes:
    return _replace_value(c, data, c.choice(_VALUES))


def inject_tag(c: Chooser, data: bytes) -> bytes:
    return _replace_value(c, data, c.choice(_TAGS))


def weird_key(c: Chooser, data: bytes) -> bytes:
    lines = _lines(data)
    i = c.integer(0, len(lines))
    indent = c.choice(["", "  ", "    "])
    lines[i:i] = [(indent + line).encode() for line in c.choice(_KEYS).split("\n")]
    return b"\n".join(lines)


def control_char(c: Chooser, data: bytes) -> bytes:
    i = c.integer(0, len(data))
    return data[:i] + c.choice(_CONTROL).encode("utf-8", "surrogatepass") + data[i:]


def reencode(c: Chooser, data: bytes) -> bytes:
    text = data.decode("utf-8", "replace").replace("description: ", "description: café ñ ", 1)
    return text.encode(c.choice(_ENCODINGS), "replace")


def alias_bomb(c: Chooser, data: bytes) -> bytes:
    width, levels = c.integer(2, 12), c.integer(2, 12)
    out = [f"b0: &b0 [{', '.join(['lol'] * width)}]"]
    out += [f"b{k}: &b{k} [{', '.join([f'*b{k - 1}'] * width)}]" for k in range(1, levels)]
    bomb = "\n".join(out).encode()
    return bomb + b"\n" + data if c.integer(0, 1) else data + b"\n" + bomb


def deep_nesting(c: Chooser, data: bytes) -> bytes:
    depth = c.choice([10, 40, 100, 999, 1000, 5000, 20000])
    kind = c.integer(0, 2)
    if kind == 0:
        nest = "[" * depth + "]" * depth
    elif kind == 1:
        nest = "{a: " * depth + "1" + "}" * depth
    else:
        nest = "\n" + "\n".join(" " * k + "- " for k in range(0, min(depth, 3000) * 2, 2)) + "x"
    return data + b"\nnest: " + nest.encode()


def recursive_alias(c: Chooser, data: bytes) -> bytes:
    return data + c.choice([b"\nr: &r [*r]", b"\nr: &r {a: *r}", b"\nr: *undefined", b"\nr: &x 1\ns: &x 2"])


def multi_document(c: Chooser, data: bytes) -> bytes:
    return data + c.choice([b"\n---\nname: x\n", b"\n...\n", b"\n--- !!str\n", b"\n%YAML 1.1\n---\n"])


MUTATIONS: list[Callable[[Chooser, bytes], bytes]] = [
    flip_byte, truncate, insert_bytes, delete_line, duplicate_line, reindent_line, swap_type, inject_tag, weird_key,
    control_char, reencode, alias_bomb, deep_nesting, recursive_alias, multi_document,
]


def mutated_definition(c: Chooser) -> tuple[str, bytes, list[str]]:
    """(base file name, mutated bytes, names of the mutations applied)."""
    name = c.choice(sorted(BASES))
    data = BASES[name]
    applied = []
    for _ in range(c.integer(1, 3)):
        mutation = c.choice(MUTATIONS)
        data = mutation(c, data)
        applied.append(mutation.__name__)
    return name, data, applied


# ---------------------------------------------------------------- files and trees


@dataclass
class Workspace:
    """Files the argument generators point at: good ones, bad ones, damaged sysfs trees."""

    root: Path
    definition: Path
    """Rewritten for each definition case."""
    good_cluster: Path
    bad_files: list[Path]
    sysfs_trees: list[Path]
    nvml: list[Path]
    logs: list[Path]
    existing_file: Path
    out_dir: Path


def make_workspace(base: Path | None = None) -> Workspace:
    """Lay out everything the generators need under ``base`` (a fresh temporary folder by default)."""
    root = Path(base or tempfile.mkdtemp(prefix="aiinfra-fuzz-"))
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "binary.yaml": bytes(range(256)),
        "utf16.yaml": BASES["a800-ib.yaml"].decode().encode("utf-16"),
        "empty.yaml": b"",
        "list.json": b"[1, 2]",
        "deep.json": b"[" * 100_000 + b"]" * 100_000,
        "garbage.json": b"{not json",
        "bigint.json": b'{"gpus": [{"name": "x", "pci_bus_id": "0000:01:00.0", "numa_node": ' + b"9" * 5000 + b"}]}",
        "badbdf.json": b'{"gpus": [{"name": "x", "pci_bus_id": "zz"}]}',
        "gpus-dict.json": b'{"gpus": {"a": 1}}',
        "nvlink-str.json": b'{"gpus": [{"name": "x", "pci_bus_id": "0000:01:00.0", "nvlink_states": "11"}]}',
        "latin1.log": "h:1:1 [0] NCCL INFO Using network Socket é\n".encode("latin-1"),
        "long.log": b"x" * 300_000 + b"\n" + b"h:1:1 [0] NCCL INFO Channel 00/0 : 0[0] -> 1[0] via NET/Socket/0\n",
        "hugenum.log": b"h:1:1 [0] NCCL INFO Channel " + b"9" * 5000 + b"/0 : 0[0] -> 1[0] via NET/IB/" + b"9" * 5000,
        "nolines.log": b"hello\nworld\n",
    }
    bad = []
    for name, content in files.items():
        (root / name).write_bytes(content)
        bad.append(root / name)
    (root / "a-directory.yaml").mkdir(exist_ok=True)
    bad += [root / "a-directory.yaml", root / "missing.yaml", Path("/dev/null"), Path("/proc/self/mem")]
    existing = root / "existing-file"
    existing.write_text("keep me\n")
    return Workspace(
        root=root,
        definition=root / "definition.yaml",
        good_cluster=ROOT / "clusters" / "a800-ib.yaml",
        bad_files=bad,
        sysfs_trees=_damaged_trees(root / "sysfs"),
        nvml=sorted((FIXTURES / "nvml").glob("*.json")) + [p for p in bad if p.suffix == ".json"],
        logs=sorted((FIXTURES / "nccl").glob("*.log")) + [p for p in bad if p.suffix == ".log"],
        existing_file=existing,
        out_dir=root / "out",
    )


def _damaged_trees(base: Path) -> list[Path]:
    """The fixture trees, plus copies with a symlink loop, a bad GID, a non-ASCII port name, a FIFO."""
    good = sorted(p for p in (FIXTURES / "sysfs").iterdir() if p.is_dir())
    shutil.rmtree(base, ignore_errors=True)
    trees = []
    for kind in ("loop", "class-loop", "gid", "port-name", "fifo", "devices-loop"):
        tree = base / kind
        shutil.copytree(FIXTURES / "sysfs" / "roce-h100", tree, symlinks=True)
        ib = tree / "sys" / "class" / "infiniband"
        hca = sorted(ib.iterdir())[0]
        port = hca / "ports" / "1"
        if kind == "loop":
            dev = hca.resolve() / "device"
            dev.unlink()
            dev.symlink_to("device2")
            (dev.parent / "device2").symlink_to("device")
        elif kind == "class-loop":
            (ib / "mlx5_99").symlink_to("mlx5_98")
            (ib / "mlx5_98").symlink_to("mlx5_99")
        elif kind == "gid":
            (port / "gids" / "3").write_text("0000:0000:0000:0000:0000:ffff:zz:1\n")
        elif kind == "port-name":
            (hca / "ports" / "\u0663").mkdir()
        elif kind == "fifo":
            (port / "rate").unlink()
            os.mkfifo(port / "rate")
        else:
            devices = tree / "sys" / "devices"
            devices.rename(tree / "sys" / "devices.real")
            devices.symlink_to("devices2")
            (tree / "sys" / "devices2").symlink_to("devices")
        trees.append(tree)
    return good + trees + [base / "missing", FIXTURES / "make_sysfs.py"]


# ---------------------------------------------------------------- arguments

_JUNK = ["", " ", "-", "--", "-x", "0", "-5", "1e400", "inf", "nan", "9" * 50, "\u0663", "a" * 300, "../x y",
         "BAD_Name", "x\x00y", "é", "--help-me", "$(true)", "*"]


def _junk(c: Chooser) -> str:
    return c.choice(_JUNK)


def _file(c: Chooser, ws: Workspace) -> str:
    return str(c.choice([ws.good_cluster, ws.definition, *ws.bad_files]))


def args_validate(c: Chooser, ws: Workspace) -> list[str]:
    return ["validate", *[_file(c, ws) for _ in range(c.integer(1, 3))]]


def args_render(c: Chooser, ws: Workspace) -> list[str]:
    argv = ["render", _file(c, ws)]
    options = {
        "--workers": ["-5", "0", str(10**20), "10001", "x", "1.5", "\u0663", "3"],
        "--name": ["BAD_Name", "a" * 64, "-x", "x-", "ok-name", "a.b", "", "UPPER"],
        "--namespace": ["../x y", "default", "Kube_System", "a" * 64, "x\x00"],
        "--keep-within": ["nosuch", "", "topology.kubernetes.io/zone"],
        "-o": [str(ws.existing_file), "/proc/aiinfra-x", str(ws.existing_file / "sub"), str(ws.out_dir), "/dev/null"],
    }
    for name, values in options.items():
        if c.integer(0, 2) == 0:
            argv += [name, c.choice(values)]
    return argv


def _node_options(c: Chooser, ws: Workspace) -> list[str]:
    argv = []
    if c.integer(0, 1):
        argv += ["--cluster", _file(c, ws)]
    argv += ["--sysfs-root", str(c.choice(ws.sysfs_trees))]
    if c.integer(0, 2):
        argv += ["--nvml-recording", str(c.choice([*ws.nvml, *ws.bad_files]))]
    return argv


def args_node_check(c: Chooser, ws: Workspace) -> list[str]:
    return ["node", "check", *_node_options(c, ws), *c.choice([[], ["--json"]])]


def args_nccl_env(c: Chooser, ws: Workspace) -> list[str]:
    return ["nccl", "env", *_node_options(c, ws), *c.choice([[], ["--json"], ["--explain"]])]


def args_nccl_log(c: Chooser, ws: Workspace) -> list[str]:
    return ["nccl", "log", str(c.choice([*ws.logs, *ws.bad_files])), *c.choice([[], ["--json"]])]


_BENCH_GOOD = {"--sizes": "1K:4K", "--timeout": "30", "--iters": "2", "--warmup": "0", "--gpus": "2", "--expect": "1"}
_BENCH_BAD = {
    "collective": ["", "foo", "all_reduce,bogus", ",", "ALL REDUCE"],
    "--sizes": ["infK", "1e400G", "nan", "-1", "0", "1K:1M:1", "1M:1K", "9" * 5000, "2T", "K", "1.2.3M", "1K:2K:x",
                "1K:2K:99999", "1:2:3:4", "\u0663K"],
    "--timeout": ["-5", "0", "nan", "inf", "-inf", "1e400"],
    "--gpus": ["0", "-1", "99999", "x"],
    "--iters": ["0", "-3", "10000000", "1.5"],
    "--warmup": ["-1", "99999999"],
    "--expect": ["0", "-1", "nan", "inf"],
    "--env": ["NOEQUALS", "=x"],
    "--mode": ["rail", "bogus"],
    "--dtype": ["int8"],
    "--cluster": ["binary", "missing"],
}


def args_bench(c: Chooser, ws: Workspace) -> list[str]:
    """Always at least one bad value, so no case starts a real run."""
    bad = c.choice(sorted(_BENCH_BAD))
    values = dict(_BENCH_GOOD)
    collective = "all_reduce"
    value = c.choice(_BENCH_BAD[bad])
    if bad == "collective":
        collective = value
    elif bad == "--cluster":
        values[bad] = str(ws.root / ("binary.yaml" if value == "binary" else "missing.yaml"))
    else:
        values[bad] = value
    argv = ["bench", collective, "--local", "--backend", "gloo"]
    for name, v in values.items():
        if name == bad or c.integer(0, 1):
            argv += [name, v]
    return argv


def args_clusters(c: Chooser, ws: Workspace) -> list[str]:
    """launch/status/submit/logs/down and sim: only argument validation (each case has a bad value)."""
    bad_name = c.choice(["BAD_Name", "../x y", "a" * 64, "-x", "x\x00", "é"])
    return c.choice(
        [
            ["launch", str(ws.good_cluster), "--workers", c.choice(["-5", "0", str(10**20), "x"])],
            ["launch", str(ws.good_cluster), "--name", bad_name],
            ["launch", str(ws.good_cluster), "--namespace", bad_name],
            ["launch", str(ws.good_cluster), "--timeout", c.choice(["-5", "0", "nan", "inf"])],
            ["status", bad_name],
            ["status", "ok", "--namespace", bad_name],
            ["submit", bad_name, "--", "true"],
            ["logs", bad_name, "job"],
            ["down", bad_name],
            ["sim", "up", str(ws.good_cluster), "--nodes", c.choice(["-1", "0", "x", str(10**9)])],
            ["sim", "up", str(ws.good_cluster), "--nodes-per-leaf", "0"],
            ["sim", "up", str(ws.good_cluster), "--timeout", c.choice(["-5", "nan"])],
            ["sim", c.choice(["bogus", "--bogus"])],
            [c.choice(["bogus", "--version-x", ""])],
        ]
    )


def _outputs(ws: Workspace) -> list[str]:
    """Places a command is asked to write to: a file, under a file, /proc, /dev/null, '', a folder, fine."""
    return [str(ws.existing_file), str(ws.existing_file / "sub"), "/proc/aiinfra-x", "/proc/aiinfra-x/y",
            "/dev/null", "", "x\x00y", str(ws.root / "a-directory.yaml"), str(ws.out_dir)]


def _some_options(c: Chooser, options: dict[str, list[str]]) -> list[str]:
    argv: list[str] = []
    for name, values in options.items():
        if c.integer(0, 2) == 0:
            argv += [name, c.choice(values)]
    return argv


def _one_bad_option(c: Chooser, bad: dict[str, list[str]]) -> list[str]:
    """One option with a bad value plus a few others: every case is refused before it reaches a cluster."""
    name = c.choice(sorted(bad))
    argv = [name, c.choice(bad[name])]
    for other in sorted(bad):
        if other != name and c.integer(0, 3) == 0:
            argv += [other, c.choice(bad[other])]
    return argv


_BAD_NAMES = ["BAD_Name", "../x y", "a" * 64, "-x", "x-", "x\x00", "é", "a.b", ""]
_INVENTORIES = [str(ROOT / "clusters" / "nodes" / "a800-ib.yaml")]


def args_net_render(c: Chooser, ws: Workspace) -> list[str]:
    argv = ["net", "render", _file(c, ws)]
    return argv + _some_options(c, {
        "--inventory": [*_INVENTORIES, *(str(p) for p in ws.bad_files[:6])],
        "--node": ["gpu-01", "nosuch", *_JUNK[:4]],
        "-o": _outputs(ws),
    })


def args_net_render_operators(c: Chooser, ws: Workspace) -> list[str]:
    argv = ["net", "render-operators", _file(c, ws)]
    return argv + _some_options(c, {
        "--nodes": ["-1", "0", "x", str(10**20), "1.5", "4"],
        "--driver": ["bogus", "host", "container"],
        "--registry": ["", "a b", "mirror.local:5000", "é"],
        "--pull-secret": ["", "BAD_Name", "regcred"],
        "--kube-version": ["", "x", "v1.99.0", "v1.30.0", "1e400"],
        "-o": _outputs(ws),
    })


def args_net_host(c: Chooser, ws: Workspace) -> list[str]:
    """verify (read-only) and apply with a --root other than / and no --dry-run (refused before any change)."""
    verb = c.choice(["verify", "apply"])
    source = c.choice([["--plan", str(c.choice(ws.bad_files))], [_file(c, ws)],
                       [_file(c, ws), "--inventory", c.choice([*_INVENTORIES, str(c.choice(ws.bad_files))])]])
    root = c.choice([str(ws.root), str(ws.root / "missing"), str(ws.existing_file), *map(str, ws.sysfs_trees[-3:])])
    argv = ["net", verb, *source, "--root", root]
    if c.integer(0, 1):
        argv += ["--node", c.choice(["gpu-01", "nosuch", *_JUNK[:4]])]
    if verb == "apply" and c.integer(0, 2) == 0:
        argv += ["--timeout", c.choice(["x", "nan", "-1"])]
    return argv


def args_net_cluster(c: Chooser, ws: Workspace) -> list[str]:
    """net test / deploy / undeploy: only argument validation (each case has a bad value)."""
    verb = c.choice(["test", "deploy", "undeploy"])
    if verb == "test":
        bad = {"--json": [*_outputs(ws)[:3], str(ws.root)], "--html": [str(ws.existing_file / "x"), str(ws.root)],
               "--metrics": ["", str(ws.existing_file / "m.prom")], "--namespace": _BAD_NAMES,
               "--seed": ["x", "1.5"], "--nodes": ["x", ""], "--scenario": ["bogus"], "--node-timeout": ["x"]}
        return ["net", "test", "--simulate", "4", *_one_bad_option(c, bad)]
    bad = {"--nodes": ["x", "-1.5", "", str(10**20) + "x"], "--driver": ["bogus", ""]}
    if verb == "deploy":
        bad["--timeout"] = ["x", ""]
    return ["net", verb, _file(c, ws), *_one_bad_option(c, bad)]


def _webhooks(c: Chooser) -> list[str]:
    return c.choice([[], ["--webhook", c.choice(["nosuch=http://x", "=", "critical=", "noequals", "critical=http://x"])]])


def args_monitor_render(c: Chooser, ws: Workspace) -> list[str]:
    argv = ["monitor", "render", _file(c, ws), *_webhooks(c)]
    return argv + _some_options(c, {
        "--namespace": [*_BAD_NAMES, "monitoring"],
        "--release": [*_BAD_NAMES, "kps"],
        "--registry": ["", "mirror.local:5000", "é"],
        "-o": _outputs(ws),
    })


def args_monitor_deploy(c: Chooser, ws: Workspace) -> list[str]:
    """Only argument validation: each case has a bad value refused before helm or the API server is reached."""
    bad = {"--namespace": _BAD_NAMES, "--release": _BAD_NAMES, "--webhook": ["nosuch=http://x", "=", "noequals"],
           "--chart": [str(ws.root / "missing-chart"), ""]}
    return ["monitor", "deploy", _file(c, ws), "--dry-run", *_one_bad_option(c, bad)]


def args_exporter(c: Chooser, ws: Workspace) -> list[str]:
    """Always --once or a bad --listen, so no case starts serving."""
    argv = ["exporter", "--path.sysfs", str(c.choice([t / "sys" for t in ws.sysfs_trees] + ws.sysfs_trees[-2:])),
            "--path.procfs", c.choice(["/proc", str(ws.root / "missing"), str(ws.existing_file)])]
    argv += ["--nvml-recording", str(c.choice([*ws.nvml, *ws.bad_files]))]
    if c.integer(0, 1):
        argv += ["--cluster", _file(c, ws)]
    listen = ["--listen", c.choice([":99999999", ":0", ":-1", "", ":", "x", "host:", ":65536", ":8o", "é:80",
                                    "a b:80", "9" * 50])]
    return argv + c.choice([["--once"], listen, ["--once", *listen]])


COMMANDS: dict[str, Callable[[Chooser, Workspace], list[str]]] = {
    "validate": args_validate,
    "render": args_render,
    "node check": args_node_check,
    "nccl env": args_nccl_env,
    "nccl log": args_nccl_log,
    "bench": args_bench,
    "launch/status/submit/logs/down/sim": args_clusters,
    "net render": args_net_render,
    "net render-operators": args_net_render_operators,
    "net apply/verify": args_net_host,
    "net test/deploy/undeploy": args_net_cluster,
    "monitor render": args_monitor_render,
    "monitor deploy": args_monitor_deploy,
    "exporter": args_exporter,
}
REFUSED = {"bench", "launch/status/submit/logs/down/sim", "net test/deploy/undeploy", "monitor deploy"}
"""Groups whose every case carries a bad value: each must exit 2."""


# ---------------------------------------------------------------- running and checking


def run_in_process(argv: list[str]) -> tuple[int, str, str]:
    """``aiinfra.cli.main(argv)`` with stdout and stderr captured; argparse's SystemExit becomes its code."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return code, out.getvalue(), err.getvalue()


def definition_paths(argv: list[str], ws: Workspace) -> set[str]:
    """Arguments naming a definition file whose messages must carry a line."""
    return {a for a in argv if a in (str(ws.definition), str(ws.good_cluster))}


def check_outcome(argv: list[str], code: int, out: str, err: str, definitions: set[str]) -> str | None:
    """Why this outcome breaks the rules, or None when it keeps them."""
    if code not in (0, 1, 2):
        return f"exit code {code}"
    both = out + err
    if "Traceback" in both or "internal error" in both:
        return "traceback or internal error"
    for path in definitions:
        for line in err.splitlines():
            text = line.removeprefix("aiinfra: ").removeprefix("warning: ")
            unlocated = text.startswith(f"{path}:") and not re.match(rf"{re.escape(path)}:\d+: ", text)
            if unlocated and "cannot read" not in text and "too large" not in text:
                return f"a message without a line: {line[:200]!r}"
    return None
