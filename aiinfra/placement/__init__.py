"""Topology-aware placement: the pure planner (``plan``, ``topology``), fabric labels, and
placement groups on a live Ray cluster (``ray``)."""
