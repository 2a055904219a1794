#!/usr/bin/env bash
# Re-pin tests/k8s/kube to another k8s.io/kubernetes release, e.g.
#   tests/k8s/bump-kube.sh v1.35.4
# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
# ./staging/...; replaces in a dependency are ignored, so this wrapper module must
# replace every `k8s.io/<x> v0.0.0` of that release's go.mod with k8s.io/<x> v0.<minor>.<patch>.
# The list changes between minors, hence generated here from the proxy's go.mod.
set -euo pipefail
K8S="${1:?usage: bump-kube.sh v1.MINOR.PATCH}"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
cd "$(dirname "${BASH_SOURCE[0]}")/kube"
MINOR="$(echo "$K8S" | cut -d. -f2)"; PATCH="$(echo "$K8S" | cut -d. -f3)"
GOMOD="$("$GO" mod download -json "k8s.io/kubernetes@$K8S" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
[ -f "$GOMOD" ] || { echo "bump-kube.sh: cannot fetch k8s.io/kubernetes@$K8S" >&2; exit 1; }
for m in $(awk '/^replace/ {print $2}' go.mod); do "$GO" mod edit -dropreplace="$m"; done
for m in $(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$GOMOD"); do
  "$GO" mod edit -replace="$m=$m@v0.$MINOR.$PATCH"
done
godebug="$(awk '$1 == "godebug" && $2 ~ /^default=/ {print $2}' "$GOMOD")"
[ -z "$godebug" ] || "$GO" mod edit -godebug="$godebug"
"$GO" get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S" "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S" \
  "k8s.io/kubernetes/cmd/kube-scheduler@$K8S"
"$GO" mod tidy
echo "bump-kube.sh: tests/k8s/kube now pins k8s.io/kubernetes $K8S; run tests/k8s/build.sh kube"
