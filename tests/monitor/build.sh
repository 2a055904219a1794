#!/usr/bin/env bash
# Build the monitoring test tools (prometheus, promtool, node_exporter) from the
# Go module proxy into $AIINFRA_MONITOR_TOOLS (default: <repo>/.cache/monitor-tools/bin).
#
# Same scheme as tests/k8s/build.sh: one wrapper module per tool under
# tests/monitor/<name>/ pins the version with Go `tool` directives; a stamp file
# (sha256 of go.mod+go.sum, this script and the Go version) makes a second run a no-op.
# Prometheus is built with -tags remove_all_sd (no cloud service discovery: smaller,
# faster to build; tests use static and file targets only) and without the embedded
# web UI assets (the API and scraping are what tests use).
#
# Usage: tests/monitor/build.sh [prometheus|node_exporter ...]  (default: both)
# Env: GO, AIINFRA_MONITOR_TOOLS, GOFLAGS (default -p=1: the machine is shared).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
bin="${AIINFRA_MONITOR_TOOLS:-$root/.cache/monitor-tools/bin}"
stamps="$bin/.stamps"
mkdir -p "$bin" "$stamps"
export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:--p=1}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(prometheus node_exporter)

stamp_of() { { cat "$here/$1/go.mod" "$here/$1/go.sum" "$here/build.sh"; "$GO" version; } | sha256sum | cut -c1-16; }

# Version stamping as upstream's promu does it; without it `--version` says nothing useful.
# Prometheus 3.x is published as module versions v0.3XY.Z for release 3.XY.Z.
version_ldflags() {
  local mod="$1" tool="$2" v p=github.com/prometheus/common/version
  v="$(awk -v m="$mod" '$1==m{print $2; exit}' "$here/$tool/go.mod")"
  v="${v#v}"
  if [ "$tool" = prometheus ]; then v="3.$(echo "$v" | cut -d. -f2 | sed 's/^3//;s/^0*\([0-9]\)/\1/').$(echo "$v" | cut -d. -f3)"; fi
  echo "-s -w -X $p.Version=$v -X $p.Revision=module -X $p.Branch=HEAD -X $p.BuildUser=aiinfra -X $p.BuildDate=20260101-00:00:00"
}

build_group() {
  local g="$1" ldflags tags="" stamp
  local -a pkgs names
  case "$g" in
    prometheus)    pkgs=(github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool)
                   names=(prometheus promtool); tags="remove_all_sd"
                   ldflags="$(version_ldflags github.com/prometheus/prometheus prometheus)" ;;
    node_exporter) pkgs=(github.com/prometheus/node_exporter); names=(node_exporter)
                   ldflags="$(version_ldflags github.com/prometheus/node_exporter node_exporter)" ;;
    *) echo "build.sh: unknown tool '$g' (prometheus node_exporter)" >&2; return 2 ;;
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
    (cd "$here/$g" && "$GO" build -trimpath -tags="$tags" -ldflags="$ldflags" -o "$bin/${names[$i]}.tmp" "${pkgs[$i]}")
    mv -f "$bin/${names[$i]}.tmp" "$bin/${names[$i]}"
    echo "build.sh: built ${names[$i]} in $((SECONDS - t1))s"
  done
  echo "$stamp" >"$stamps/$g"
  echo "build.sh: $g done in $((SECONDS - t0))s"
}

start=$SECONDS
for g in "${groups[@]}"; do build_group "$g"; done
echo "build.sh: all done in $((SECONDS - start))s -> $bin"
