"""The fabric test: control plane, node checks, data plane per rail, and localisation by pairing."""
