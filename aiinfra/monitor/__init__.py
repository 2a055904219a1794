"""Monitoring: the aiinfra exporter, alert rules, dashboards and the monitoring stack.

``aiinfra.monitor.rules`` and ``aiinfra.monitor.dashboards`` are pure renderers: they turn a
cluster definition into Prometheus rules, promtool unit tests and Grafana dashboard JSON.
"""
