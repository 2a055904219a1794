"""Kubernetes: the pure RayCluster renderer (``raycluster``) and what talks to an apiserver
(``client``, ``preflight``, ``portforward``, ``backend``)."""
