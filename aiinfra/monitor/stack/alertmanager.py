"""Alertmanager routing and inhibition for the aiinfra alerts.

Routes by severity: ``critical`` pages, ``warning`` opens a ticket, ``info`` goes to the job
owner. A node that is down inhibits the GPU, port, bond and exporter alerts of that node; a
port that is down inhibits that port's rate and error alerts; a bond that is down inhibits its
member alerts. Receivers carry no integration until a webhook URL is given.

Example:
    >>> from aiinfra.monitor.stack.alertmanager import alertmanager_config
    >>> cfg = alertmanager_config()
    >>> [r["receiver"] for r in cfg["route"]["routes"]]
    ['null', 'page', 'ticket', 'job-owner']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RECEIVERS = ("page", "ticket", "job-owner")
_PORT_CHILDREN = (
    "IbRateDegraded|IbLinkDowned|IbLinkFlapping|IbSymbolErrorBurst|IbSymbolErrorsHigh|"
    "IbLinkIntegrityErrors|IbReceiveErrors|IbCongestion|RdmaRetriesExhausted|RdmaTransportRetries|"
    "RdmaCongestionNotifications"
)


def inhibit_rules() -> list[dict[str, Any]]:
    """Which firing alert silences which others (matched on the labels in ``equal``)."""
    return [
        {
            "source_matchers": ['alertname="NodeDown"'],
            "target_matchers": ['subsystem=~"gpu|infiniband|bond|exporter|fabric-test"'],
            "equal": ["node"],
        },
        {
            "source_matchers": ['alertname="IbPortDown"'],
            "target_matchers": [f'alertname=~"{_PORT_CHILDREN}"'],
            "equal": ["node", "device", "port"],
        },
        {
            "source_matchers": ['alertname="IbPortMissing"'],
            "target_matchers": ['alertname=~"IbPortDown|IbRateDegraded"'],
            "equal": ["node"],
        },
        {
            "source_matchers": ['alertname="BondDown"'],
            "target_matchers": [
                'alertname=~"BondMemberDown|BondMemberWrongAggregator|BondLacpChurn|BondNoLacpPartner"'
            ],
            "equal": ["node"],
        },
        {
            "source_matchers": ['alertname="GpuMissing"'],
            "target_matchers": ['subsystem="gpu"', 'alertname!="GpuMissing"'],
            "equal": ["node"],
        },
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity=~"warning|info"'],
            "equal": ["alertname", "node"],
        },
    ]


def _receiver(name: str, webhooks: Mapping[str, str]) -> dict[str, Any]:
    url = webhooks.get(name)
    return {"name": name, **({"webhook_configs": [{"url": url, "send_resolved": True}]} if url else {})}


def alertmanager_config(webhooks: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Alertmanager configuration (kube-prometheus-stack's ``alertmanager.config``).

    ``webhooks`` maps a receiver (page, ticket, job-owner) to a webhook URL.
    """
    webhooks = webhooks or {}
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "ticket",
            "group_by": ["alertname", "node"],
            # Short waits: a dead link should reach a person within the 30 s the rules are built for.
            "group_wait": "10s",
            "group_interval": "1m",
            "repeat_interval": "4h",
            "routes": [
                {"receiver": "null", "matchers": ['alertname=~"Watchdog|InfoInhibitor"']},
                {"receiver": "page", "matchers": ['severity="critical"'], "group_wait": "0s", "repeat_interval": "1h"},
                {"receiver": "ticket", "matchers": ['severity="warning"']},
                {
                    "receiver": "job-owner",
                    "matchers": ['severity="info"'],
                    "group_by": ["alertname", "namespace", "pod"],
                },
            ],
        },
        "inhibit_rules": inhibit_rules(),
        "receivers": [{"name": "null"}, *(_receiver(r, webhooks) for r in RECEIVERS)],
    }
