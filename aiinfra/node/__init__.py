"""What runs on a GPU node: discovery of GPUs, RDMA ports and PCIe paths, and the node checks.

Node-side code imports neither Ray, torch nor the Kubernetes client (checked by import-linter
and a subprocess test), so it runs on a bare node and in the exporter.
"""
