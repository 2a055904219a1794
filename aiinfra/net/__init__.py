"""Host network (netplan bond + rail netdevs, apply with rollback, verification) and, in
``operators*``, the NVIDIA Network Operator and GPU Operator deployment.

Host modules (``inventory*``, ``netplan``, ``plan``, ``bonding``, ``host_apply``, ``host_verify``) run on
a bare node: ``plan``, ``bonding``, ``host_apply`` and ``host_verify`` need only the standard library and
PyYAML; none imports Ray, torch or the Kubernetes client (import-linter and tests/net check it).
"""
