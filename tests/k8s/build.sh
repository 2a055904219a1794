#!/usr/bin/env bash
# Build the Kubernetes test tools (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok, ray-operator, helm) from the Go module proxy into
# $AIINFRA_K8S_TOOLS (default: <repo>/.cache/k8s-tools/bin).
#
# Each tool comes from a small wrapper module under tests/k8s/<name>/ whose
# go.mod pins the version (Go 1.24+ `tool` directives). A tool is rebuilt only
# when the sha256 of its module's go.mod+go.sum changed (stamp file next to the
# binary), so a second run is a no-op.
#
# Usage: tests/k8s/build.sh [tool-group ...]   groups: etcd kube kwok kuberay helm
#        (default: all).  Env: GO (go binary), AIINFRA_K8S_TOOLS, GOFLAGS.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
bin="${AIINFRA_K8S_TOOLS:-$root/.cache/k8s-tools/bin}"
stamps="$bin/.stamps"
mkdir -p "$bin" "$stamps"
export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:--p=2}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(etcd kube kwok kuberay helm)

# The stamp covers the module's go.mod/go.sum and this script (its flags), and the Go version.
stamp_of() { { cat "$here/$1/go.mod" "$here/$1/go.sum" "$here/build.sh"; "$GO" version; } | sha256sum | cut -c1-16; }

# Kubernetes version stamping (same ldflags as hack/lib/version.sh); without
# them /version reports v0.0.0 and helm kubeVersion checks break.
kube_ldflags() {
  local v major minor p=k8s.io/component-base/version c=k8s.io/client-go/pkg/version
  v="$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$here/kube/go.mod")"
  major="$(echo "${v#v}" | cut -d. -f1)"
  minor="$(echo "${v#v}" | cut -d. -f2)"
  local x=""
  for pkg in $p $c; do
    x="$x -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    x="$x -X $pkg.gitTreeState=clean -X $pkg.buildDate=2026-01-01T00:00:00Z"
  done
  echo "-s -w$x"
}

build_group() {
  local g="$1" ldflags="-s -w" stamp
  local -a pkgs names
  case "$g" in
    etcd)    pkgs=(go.etcd.io/etcd/server/v3); names=(etcd) ;;
    kube)    pkgs=(k8s.io/kubernetes/cmd/kube-apiserver
                   k8s.io/kubernetes/cmd/kube-controller-manager
                   k8s.io/kubernetes/cmd/kube-scheduler)
             names=(kube-apiserver kube-controller-manager kube-scheduler)
             ldflags="$(kube_ldflags)" ;;
    kwok)    pkgs=(sigs.k8s.io/kwok/cmd/kwok); names=(kwok) ;;
    kuberay) pkgs=(github.com/ray-project/kuberay/ray-operator); names=(ray-operator) ;;
    helm)    pkgs=(helm.sh/helm/v3/cmd/helm); names=(helm)
             ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$(awk '$1=="helm.sh/helm/v3"{print $2; exit}' "$here/helm/go.mod")" ;;
    *) echo "build.sh: unknown tool group '$g' (etcd kube kwok kuberay helm)" >&2; return 2 ;;
  esac
  stamp="$(stamp_of "$g")"
  local fresh=1 n
  for n in "${names[@]}"; do [ -x "$bin/$n" ] || fresh=0; done
  if [ "$fresh" = 1 ] && [ "$(cat "$stamps/$g" 2>/dev/null)" = "$stamp" ]; then
    echo "build.sh: $g up to date (${names[*]})"
    return 0
  fi
  local t0=$SECONDS i
  for i in "${!pkgs[@]}"; do
    local t1=$SECONDS
    (cd "$here/$g" && "$GO" build -trimpath -ldflags="$ldflags" -o "$bin/${names[$i]}.tmp" "${pkgs[$i]}")
    mv -f "$bin/${names[$i]}.tmp" "$bin/${names[$i]}"
    echo "build.sh: built ${names[$i]} in $((SECONDS - t1))s"
  done
  echo "$stamp" >"$stamps/$g"
  echo "build.sh: $g done in $((SECONDS - t0))s"
}

start=$SECONDS
for g in "${groups[@]}"; do build_group "$g"; done
echo "build.sh: all done in $((SECONDS - start))s -> $bin"
