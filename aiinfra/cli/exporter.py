"""``aiinfra exporter`` (also the ``aiinfra-exporter`` console script): serve the node's metrics.

Exports only what node_exporter and dcgm-exporter miss (docs/monitoring.md). Runs on a GPU
node, or in the DaemonSet with the host's /sys and /proc mounted read-only.

Example:
    $ aiinfra exporter --cluster clusters/a800-ib.yaml --listen :9835
    $ aiinfra exporter --path.sysfs /host/sys --path.procfs /host/proc --no-collector.conformance --once
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from aiinfra.cli.arguments import listen_address
from aiinfra.cli.node import _definition_from_pod
from aiinfra.definition.loader import load_definition
from aiinfra.errors import AiinfraError, UsageError
from aiinfra.monitor.exporter.exporter import Exporter, available
from aiinfra.monitor.exporter.registry import ExporterConfig
from aiinfra.monitor.exporter.server import make_server

DEFAULT_PORT = 9835


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exporter", help="serve GPU, InfiniBand and bond metrics node_exporter and dcgm-exporter miss")
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The exporter's flags (node_exporter's spelling where one exists)."""
    p.add_argument("--listen", default=f":{DEFAULT_PORT}", type=listen_address, metavar="[HOST]:PORT",
                   help=f"default :{DEFAULT_PORT}")
    p.add_argument(
        "--cluster", metavar="FILE", help="cluster definition (default: AIINFRA_DEFINITION, as the ConfigMap sets it)"
    )
    p.add_argument("--path.sysfs", dest="sysfs", default="/sys", metavar="DIR", help="sysfs mount (default /sys)")
    p.add_argument("--path.procfs", dest="procfs", default="/proc", metavar="DIR", help="procfs mount (default /proc)")
    p.add_argument("--nvml-recording", metavar="FILE", help="replay a recorded NVML JSON instead of the driver")
    p.add_argument("--once", action="store_true", help="print one scrape to stdout and exit")
    for name in sorted(available()):
        p.add_argument(
            f"--no-collector.{name}", dest=f"no_{name}", action="store_true", help=f"disable the {name} collector"
        )


def build_exporter(args: argparse.Namespace) -> Exporter:
    """The exporter the parsed arguments describe (UsageError for bad paths or files)."""
    d = load_definition(args.cluster) if args.cluster else _definition_from_pod()
    sysfs, procfs = Path(args.sysfs), Path(args.procfs)
    for flag, path in (("--path.sysfs", sysfs), ("--path.procfs", procfs)):
        if not path.is_dir():
            raise UsageError(f"{flag} {path}: not a directory")
    if args.nvml_recording:
        from aiinfra.monitor.exporter.nvml_replay import ReplayNvml

        try:
            nvml: object = ReplayNvml(json.loads(Path(args.nvml_recording).read_text(encoding="utf-8")))
        except (OSError, ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep
            raise UsageError(f"--nvml-recording {args.nvml_recording}: {exc}") from None
    else:
        from aiinfra.monitor.exporter.nvml_session import pynvml

        nvml = pynvml
    disabled = frozenset(n for n in available() if getattr(args, f"no_{n}", False))
    return Exporter(ExporterConfig(sysfs=sysfs, procfs=procfs, definition=d, nvml=nvml, disabled=disabled))


def run(args: argparse.Namespace) -> int:
    exporter = build_exporter(args)
    try:
        if args.once:
            sys.stdout.write(exporter.exposition())
            return 0
        host, port = args.listen
        try:
            server = make_server(exporter, host, port)
        except (OSError, ValueError) as exc:  # a host that does not resolve or encode (UnicodeError)
            raise UsageError(f"--listen {host}:{port}: {getattr(exc, 'strerror', None) or exc}") from None
        threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
        print(f"aiinfra exporter: serving /metrics on {host}:{port}", file=sys.stderr, flush=True)
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        signal.signal(signal.SIGINT, lambda *_: done.set())
        done.wait()
        server.shutdown()
        return 0
    finally:
        exporter.close()


def main(argv: Sequence[str] | None = None) -> int:
    """The ``aiinfra-exporter`` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="aiinfra-exporter", description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except AiinfraError as exc:
        print(f"aiinfra-exporter: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
