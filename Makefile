# The only task runner. `make test` is what CI runs (.ci/run calls it).
PYTHON ?= python3
PYTEST  = $(PYTHON) -m pytest
K8S_TOOLS ?= $(CURDIR)/.cache/k8s-tools/bin
export AIINFRA_K8S_TOOLS := $(K8S_TOOLS)
MONITOR_TOOLS ?= $(CURDIR)/.cache/monitor-tools/bin
export AIINFRA_MONITOR_TOOLS := $(MONITOR_TOOLS)

.PHONY: install system-deps lint test test-fast test-ray-current ray-current-venv golden demo demo-k8s k8s-tools k8s-crds monitor-tools bench bench-k8s bench-exporter clean

install:            ## the package with training extras and dev tools, Ray at the oldest supported version
	$(PYTHON) -m pip install -q -e '.[train,dev]' -c tests/constraints/ray-oldest.txt

# Debian packages the tests run for real: netplan generate, ping and network namespaces (iproute2,
# util-linux), Chromium + chromedriver for the fabric report, Prometheus/promtool/amtool, wget (KubeRay's
# probes inside process-backed pods). One apt-get, only when something is missing.
SYSTEM_TOOLS = netplan ping ip unshare nsenter chromium chromedriver promtool amtool prometheus wget tc
SYSTEM_PACKAGES = netplan.io iputils-ping iproute2 util-linux chromium chromium-driver prometheus \
                  prometheus-alertmanager wget
system-deps:        ## the Debian packages above, installed only when one of their commands is missing
	@missing=0; for c in $(SYSTEM_TOOLS); do command -v $$c >/dev/null 2>&1 || missing=1; done; \
	[ $$missing = 0 ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); }

lint:               ## ruff, mypy and the layer rules (import-linter, pyproject.toml)
	$(PYTHON) -m ruff check aiinfra tests examples benchmarks
	$(PYTHON) -m mypy
	lint-imports

# pytest exits 5 when it collected nothing; for a marker-filtered run that is not a failure.
test: install system-deps k8s-tools monitor-tools lint ## everything (installs and builds what it needs first): lint, goldens, unit tests, docstring examples, e2e; then the Ray tests under the newest Ray
	$(PYTEST) -q -ra --doctest-modules tests aiinfra; rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc
	$(MAKE) --no-print-directory test-ray-current

# The newest supported Ray (the other end of TESTED_RAY; the main environment runs the oldest).
RAY_CURRENT ?= 2.60.0
RAY_CURRENT_VENV ?= $(CURDIR)/.cache/venv-ray-$(RAY_CURRENT)
# What depends on the Ray version: local clusters and their auth, jobs, Ray Train's internals, placement
# through Ray, the bench's actors, the example, and the docstring examples of those packages.
RAY_CURRENT_TESTS = tests/test_versions.py tests/test_local_e2e.py tests/test_train.py tests/test_bench_cpu.py \
                    tests/test_placement_ray.py tests/test_examples.py aiinfra/launch aiinfra/train aiinfra/bench/runner.py

ray-current-venv:   ## a venv with Ray $(RAY_CURRENT) over the main environment's packages (no-op when fresh)
	PYTHON=$(PYTHON) bash tests/ray_current_venv.sh $(RAY_CURRENT_VENV) $(RAY_CURRENT)

test-ray-current: ray-current-venv ## the Ray-dependent tests and doctests again, under Ray $(RAY_CURRENT)
	PATH=$(RAY_CURRENT_VENV)/bin:$$PATH AIINFRA_EXPECT_RAY=$(RAY_CURRENT) \
	  $(RAY_CURRENT_VENV)/bin/python -m pytest -q -ra --doctest-modules $(RAY_CURRENT_TESTS)

test-fast:          ## no Ray clusters, no Kubernetes
	$(PYTEST) -q -m "not ray and not k8s" --doctest-modules tests aiinfra; rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

golden:             ## rewrite golden files (RayClusters, schema, CLI outputs); review the diff
	UPDATE_GOLDEN=1 $(PYTEST) -q -m "not ray and not k8s" tests; rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

k8s-tools:          ## build etcd, kube-*, kwok, ray-operator, helm from Go modules (no-op when fresh)
	bash tests/k8s/build.sh

monitor-tools:      ## build prometheus, promtool (3.x, -tags remove_all_sd) and node_exporter from Go modules (no-op when fresh)
	bash tests/monitor/build.sh

k8s-crds:           ## download the CRD modules (KubeRay, Multus, network operators, prometheus-operator)
	bash tests/k8s/crds.sh >/dev/null

demo:               ## launch the local default, submit the DDP example, print its logs, tear down
	$(PYTHON) examples/launch_local.py

demo-k8s: k8s-tools ## simulated 4-node A800 cluster: launch a RayCluster on it and show its status
	$(PYTHON) examples/launch_sim.py

bench:              ## launch latency and driver memory on the local default
	$(PYTHON) benchmarks/launch_latency.py

bench-k8s: k8s-tools ## build times, sim up with 4 and 1000 nodes, launch() to ready for 2 and 64 workers
	$(PYTHON) benchmarks/k8s_tools_build.py --nodes 4 1000
	$(PYTHON) benchmarks/k8s_launch.py --nodes 64 --workers 2 64

bench-exporter: monitor-tools ## aiinfra exporter vs node_exporter (infiniband+bonding) on the 8-GPU 8-rail tree
	$(PYTHON) benchmarks/exporter_vs_node_exporter.py

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build *.egg-info
