// CRD sources: these modules are never built. aiinfra.sim.crds (and crds.sh)
// run `go mod download -json MODULE@VERSION` with the versions pinned here and
// read the CRD YAML out of the module cache at the paths listed in
// aiinfra/sim/crds.py. go.sum holds the expected hashes of exactly these zips.
// Not obtainable from the Go module proxy (403 "This module version is not
// available"): github.com/Mellanox/nvidia-k8s-ipam (nv-ipam) v0.0.3 v0.1.2
// v0.3.0 @latest; github.com/Mellanox/network-operator newer than v1.4.0 (v2x
// tags are not valid module versions; commit 85afd6d9c697 refused);
// github.com/ray-project/kuberay (root module, helm chart) v1.5.0.
// So NicClusterPolicy & co. come from network-operator v1.4.0 (2022, v1alpha1):
// its spec knows ofedDriver, nvPeerDriver, rdmaSharedDevicePlugin,
// sriovDevicePlugin, ibKubernetes, secondaryNetwork, psp, nodeAffinity; newer
// fields (nvIpam, docaTelemetryService, nicFeatureDiscovery, tolerations...) are
// rejected by server-side apply: ".spec.nvIpam: field not declared in schema".
module aiinfra.invalid/sim/crd_modules

go 1.26.0

require (
	github.com/Mellanox/network-operator v1.4.0
	github.com/k8snetworkplumbingwg/network-attachment-definition-client v1.7.7
	github.com/k8snetworkplumbingwg/sriov-network-operator v1.6.0
	github.com/prometheus-operator/prometheus-operator v0.85.0
	github.com/ray-project/kuberay/ray-operator v1.5.0
	sigs.k8s.io/kwok v0.8.0
)
