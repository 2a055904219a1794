"""The network layer: host network setup, the NVIDIA operators, network tests."""
