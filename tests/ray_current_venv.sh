#!/usr/bin/env bash
# A virtual environment with the newest supported Ray on top of the main environment: torch and
# every other package come from it (--system-site-packages), only Ray (and what its newer release
# needs) is installed into the venv, so CI runs the Ray-dependent tests at both ends of the
# supported range for about half a minute of pip. A stamp (version, base Python, this script)
# makes a second run a no-op.
#
# Usage: tests/ray_current_venv.sh VENV_DIR RAY_VERSION     Env: PYTHON (the base interpreter).
set -euo pipefail
venv="$1" version="$2" python="${PYTHON:-python3}"
want="ray $version; $("$python" -c 'import sys; print(sys.executable, sys.version.split()[0])'); $(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.aiinfra-stamp" 2>/dev/null)" = "$want" ]; then
  echo "ray_current_venv: $venv up to date (Ray $version)"
  exit 0
fi
start=$SECONDS
rm -rf "$venv"
"$python" -m venv --system-site-packages "$venv"
# pip warns that the editable aiinfra's pin (the oldest Ray) is not met here: that is the point.
PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q "ray[default,train]==$version" 2>&1 \
  | grep -v "dependency resolver\|aiinfra .* requires ray" || true
"$venv/bin/python" -c 'import sys, ray; sys.exit(0 if ray.__version__ == sys.argv[1] else f"got Ray {ray.__version__}")' "$version"
echo "$want" >"$venv/.aiinfra-stamp"
echo "ray_current_venv: $venv with Ray $version in $((SECONDS - start))s"
