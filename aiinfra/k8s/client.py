"""The one place aiinfra talks to a Kubernetes API server (official client).

Objects are applied with server-side apply under the field manager
``aiinfra``, so re-applying a rendered object is idempotent and a dry run
(``dry_run=True``) has the real API server validate it against the CRD
schema without changing anything.

Example:
    >>> kube = Kube()                                            # doctest: +SKIP
    >>> kube.apply(rendered_raycluster, dry_run=True)            # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aiinfra.errors import AiinfraError, UsageError

FIELD_MANAGER = "aiinfra"


class Kube:
    """Typed access to the API server of the kubeconfig (or of the pod we run in)."""

    def __init__(self, kubeconfig: str | Path | None = None, context: str | None = None) -> None:
        from kubernetes import client, config

        self.namespace = "default"
        path = kubeconfig or os.environ.get("KUBECONFIG")
        try:
            if path is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_incluster_config()
                ns_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
                self.namespace = ns_file.read_text().strip() if ns_file.exists() else "default"
            else:
                config_file = str(path) if path else None
                config.load_kube_config(config_file=config_file, context=context)
                _, active = config.list_kube_config_contexts(config_file=config_file)
                self.namespace = (active or {}).get("context", {}).get("namespace", "default")
        except (config.ConfigException, FileNotFoundError, TypeError) as exc:
            where = path or "~/.kube/config"
            raise UsageError(
                f"no usable kubeconfig ({where}: {exc}); set KUBECONFIG, or use clusters/local.yaml to run locally"
            ) from None
        self.client = client
        self.api = client.ApiClient()
        # Typed Any: the generated models mark every field Optional, which says nothing useful here.
        self.core: Any = client.CoreV1Api(self.api)
        self.custom: Any = client.CustomObjectsApi(self.api)
        self._dynamic: Any = None

    @property
    def dynamic(self) -> Any:
        """Discovery-backed client for any kind, CRDs included (built on first use)."""
        if self._dynamic is None:
            from kubernetes.dynamic import DynamicClient

            self._dynamic = DynamicClient(self.api)
        return self._dynamic

    def resource(self, api_version: str, kind: str) -> Any:
        """The API resource for a kind; a clear error when its CRD is not installed."""
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            hint = " (install the KubeRay operator and its CRDs)" if api_version.startswith("ray.io") else ""
            raise AiinfraError(f"the API server does not serve {kind} ({api_version}){hint}") from None

    def apply(self, obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        """Server-side apply ``obj``; return the object as the server has (or would have) it."""
        res = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata", {})
        kwargs: dict[str, Any] = {"field_manager": FIELD_MANAGER, "force_conflicts": True}
        if dry_run:
            kwargs["dry_run"] = "All"
        try:
            out = res.server_side_apply(body=obj, name=meta.get("name"), namespace=meta.get("namespace"), **kwargs)
        except self.client.exceptions.ApiException as exc:
            raise api_error(exc, f"applying {obj['kind']} {meta.get('name')}") from None
        return dict(out.to_dict())

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        res = self.resource(api_version, kind)
        try:
            return dict(res.get(name=name, namespace=namespace).to_dict())
        except self.client.exceptions.ApiException as exc:
            if exc.status == 404:
                return None
            raise api_error(exc, f"reading {kind} {name}") from None

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete (foreground); False when it was already gone."""
        res = self.resource(api_version, kind)
        try:
            res.delete(name=name, namespace=namespace, body={"propagationPolicy": "Foreground"})
        except self.client.exceptions.ApiException as exc:
            if exc.status == 404:
                return False
            raise api_error(exc, f"deleting {kind} {name}") from None
        return True


def api_error(exc: Any, doing: str) -> AiinfraError:
    """Turn an ApiException into a message that says what to do."""
    import json

    reason = exc.reason
    try:
        reason = json.loads(exc.body).get("message", reason)
    except (TypeError, ValueError):
        pass
    if exc.status == 403:
        return AiinfraError(f"{doing}: forbidden ({reason}); ask for RBAC rights in that namespace or pick another")
    # The API server reports schema violations found while building the apply patch as 500.
    if exc.status == 422 or (exc.status == 500 and "failed to create typed patch object" in str(reason)):
        return UsageError(f"{doing}: rejected by the API server: {reason}")
    return AiinfraError(f"{doing}: {exc.status} {reason}")
