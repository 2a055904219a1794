"""Monitoring: the aiinfra node exporter, alert rules, dashboards and the monitoring stack.

``monitor.exporter`` covers only what node_exporter and dcgm-exporter miss (docs/monitoring.md) and
runs on a bare node; ``monitor.exporter_deploy`` renders its DaemonSet and the upstream exporters'
settings; ``monitor.rules``, ``monitor.dashboards`` and ``monitor.stack`` are pure renderers of
Prometheus rules, promtool tests, Grafana dashboards and kube-prometheus-stack values.
"""
