"""The /metrics HTTP endpoint: one scrape per request, rendered by :func:`Exporter.exposition`.

A plain ``http.server`` (one thread per request) serving the text format 0.0.4;
prometheus_client's own server renders through generate_latest, which costs more
than collecting here (see benchmarks/exporter_vs_node_exporter.py).

Example:
    >>> from aiinfra.monitor.exporter.exporter import Exporter
    >>> from aiinfra.monitor.exporter.registry import ExporterConfig
    >>> server = make_server(Exporter(ExporterConfig(nvml=None, enabled=frozenset())), "127.0.0.1", 0)
    >>> server.server_address[1] > 0
    True
    >>> server.server_close()
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client.exposition import CONTENT_TYPE_LATEST

from aiinfra.monitor.exporter.exporter import Exporter


def make_server(exporter: Exporter, host: str, port: int) -> ThreadingHTTPServer:
    """A server (not yet serving) answering /metrics and / with a scrape of ``exporter``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404)
                return
            body = exporter.exposition().encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per scrape is noise

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
