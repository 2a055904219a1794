"""Monitoring: the aiinfra node exporter (``monitor.exporter``) and its rendered deployment.

The exporter covers only what node_exporter and dcgm-exporter miss (docs/monitoring.md);
:mod:`aiinfra.monitor.exporter_deploy` renders its DaemonSet and the upstream exporters' settings.
"""
