# Vigil — every entry point a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup system-deps tools-if-go demo test bench e2e unit fuzz lint fmt crds chart dashboards dashboards-preview golden argocd-cm clean \
	images cluster cluster-down

include tools/tools.mk

help:  ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# Debian's python3 needs python3-venv for `-m venv`; install it only when venv is unusable.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || scripts/apt-install.sh python3-venv
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

setup: $(STAMP)  ## create the venv with the pinned dependencies (idempotent)

# Images without a daemon: mmdebstrap for the operator's Debian root, gcc for the pause binary.
IMAGE_PACKAGES := mmdebstrap gcc libc6-dev ca-certificates
# The local node: container runtime, CNI plugins, kube-proxy's iptables and conntrack.
NODE_PACKAGES := runc containerd containernetworking-plugins iptables conntrack
DEBIAN_PACKAGES := prometheus prometheus-alertmanager shellcheck $(IMAGE_PACKAGES) $(NODE_PACKAGES)
system-deps:  ## Debian packages the tests run (promtool, Prometheus, Alertmanager, shellcheck, image build, node)
	@scripts/apt-install.sh $(DEBIAN_PACKAGES)

images: setup  ## collector, operator and pause images as docker-archives in build/images/ (no daemon)
	@scripts/apt-install.sh $(IMAGE_PACKAGES)
	@$(MAKE) --no-print-directory tools-otelcol
	$(BIN)/python images/build.py

cluster: setup images  ## a single-node cluster that runs pods (root); prints its kubeconfig
	@scripts/apt-install.sh $(NODE_PACKAGES)
	@$(MAKE) --no-print-directory tools
	PYTHONPATH=operator:. $(BIN)/python scripts/cluster.py up

cluster-down: setup  ## stop the node `make cluster` started and remove everything it created
	PYTHONPATH=operator:. $(BIN)/python scripts/cluster.py down

demo: setup tools  ## the operator on the local node (or $$KUBECONFIG), reconciling examples/
	@if [ "$$(id -u)" -eq 0 ]; then scripts/apt-install.sh $(IMAGE_PACKAGES) $(NODE_PACKAGES); fi
	PYTHONPATH=operator:. $(BIN)/python scripts/demo.py

test: setup system-deps tools-if-go lint  ## make lint, then every test tier that can run here (unit, tools, integration, e2e)
	$(BIN)/pytest $(PYTEST_ARGS)

# Go builds the tools; without Go the tiers that need them skip (and fail under .ci/run).
tools-if-go:
	@if [ -n "$(GO)" ] || command -v go >/dev/null || [ -x /usr/local/go/bin/go ]; then \
		$(MAKE) --no-print-directory tools; \
	else \
		echo "Go not found: tests that need make tools will skip (install Go, then make tools)"; \
	fi

bench: setup tools  ## every performance figure and its target, one table + build/bench.json (BENCH_ARGS=--stacks 1000)
	PYTHONPATH=operator:. $(BIN)/python -m bench.run $(BENCH_ARGS)

# The property tests (tests/fuzz.py budgets): make test runs a bounded, repeatable budget of them.
FUZZ_TESTS := tests/integration/test_parity.py tests/unit/test_parse.py tests/unit/test_documents.py
fuzz: setup system-deps tools-if-go  ## property tests with 20x the budget, randomized: models vs the real API server, reader, renderer
	VIGIL_FUZZ=long $(BIN)/pytest $(FUZZ_TESTS) --hypothesis-show-statistics $(PYTEST_ARGS)

unit: setup  ## only the fast unit tier
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

lint: setup  ## ruff, and mypy --strict on the operator package and the generators
	$(BIN)/ruff check operator generators tests scripts bench tools images
	$(BIN)/ruff format --check operator generators tests scripts bench tools images
	$(BIN)/mypy operator/vigil generators

fmt: setup  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix operator generators tests scripts bench tools images
	$(BIN)/ruff format operator generators tests scripts bench tools images

crds: setup  ## regenerate crds/ from the models, and the chart's copy in charts/vigil/crds/
	$(BIN)/vigil crds --dir crds
	$(BIN)/python scripts/chart_sync.py

chart: crds tools-helm  ## refresh charts/vigil's copies (CRDs, rule bundle, dashboard), its README table, deploy/vigil.yaml
	$(BIN)/python scripts/chart_sync.py --deploy
	$(BIN)/python scripts/chart_readme.py

dashboards: setup  ## regenerate dashboards/*.json from generators/dashboards (review the diff)
	$(BIN)/python -m generators.dashboards

dashboards-preview: setup  ## draw each dashboard's layout to build/dashboards-preview/*.png
	$(BIN)/python scripts/dashboards_preview.py

golden: setup  ## rewrite tests/golden/ from examples/ (review the diff)
	$(BIN)/python -m tests.golden

argocd-cm: setup  ## regenerate deploy/argocd/argocd-cm.yaml from deploy/argocd/health.lua
	PYTHONPATH=operator:. $(BIN)/python scripts/argocd_cm.py

clean:  ## remove the venv and caches (not the tool cache outside the checkout)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .tools build dist operator/*.egg-info

# What the e2e tier runs besides the cluster: Helm installs the chart, kubectl drives it, the
# collector goes into the images, prometheus-operator runs Prometheus and Alertmanager pods.
E2E_TOOLS := otelcol-vigil helm kubectl prometheus-operator prometheus-config-reloader
e2e: setup  ## e2e tier on $$KUBECONFIG (images of make images loaded), on kind where Docker runs, else on the local node (root)
	@if [ -n "$$KUBECONFIG" ]; then \
		$(TOOLS_BUILD) $(E2E_TOOLS) && $(BIN)/pytest tests/e2e $(PYTEST_ARGS); \
	elif command -v kind >/dev/null && docker info >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory images && $(TOOLS_BUILD) $(E2E_TOOLS) && \
		kind create cluster --name vigil-e2e --kubeconfig .tools/kind-kubeconfig --wait 120s && \
		kind load image-archive build/images/otelcol-vigil.tar --name vigil-e2e && \
		kind load image-archive build/images/vigil-operator.tar --name vigil-e2e && \
		KUBECONFIG=$$PWD/.tools/kind-kubeconfig \
		VIGIL_E2E_HOST_IP=$$(docker network inspect kind -f '{{(index .IPAM.Config 0).Gateway}}') \
		$(BIN)/pytest tests/e2e $(PYTEST_ARGS); rc=$$?; \
		kind delete cluster --name vigil-e2e; exit $$rc; \
	else \
		$(MAKE) --no-print-directory system-deps tools && $(BIN)/pytest tests/e2e $(PYTEST_ARGS); \
	fi
