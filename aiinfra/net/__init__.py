"""Host network, network operators and the fabric test."""
