# Pinned test tools built from Go modules (see tools/build_tools.py).
#
#   make tools                         build or reuse all of them
#   make tools-otelcol                 just otelcol-vigil (likewise tools-etcd,
#                                      tools-kube-apiserver, tools-kube-controller-manager,
#                                      tools-node, tools-helm, tools-prometheus-operator,
#                                      tools-telemetrygen)
#   make tools-gitops                  kstatus, argocd-health and actionlint
#   make tools-list                    versions and cache directories
#   make tools TOOLS_FLAGS=--force     rebuild even when cached
#
# Binaries land in ${XDG_CACHE_HOME:-~/.cache}/vigil/tools/<name>-<version>-<inputs hash>/
# (shared by every checkout on the machine) and are linked into .tools/bin/
# (TOOLS_BIN below), which must stay out of git.
# Go is taken from $(GO), else PATH, else /usr/local/go/bin/go.

TOOLS_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
TOOLS_PYTHON ?= python3
TOOLS_FLAGS ?=
TOOLS_BIN := $(abspath $(TOOLS_MK_DIR)/..)/.tools/bin
TOOLS_BUILD = $(if $(GO),GO='$(GO)' )$(TOOLS_PYTHON) $(TOOLS_MK_DIR)/build_tools.py $(TOOLS_FLAGS)

.PHONY: tools tools-list tools-otelcol tools-etcd tools-kube-apiserver tools-kube-controller-manager tools-node \
	tools-gitops tools-helm tools-prometheus-operator tools-telemetrygen

tools:
	$(TOOLS_BUILD)

tools-list:
	$(TOOLS_BUILD) --list

tools-otelcol:
	$(TOOLS_BUILD) otelcol-vigil

tools-etcd:
	$(TOOLS_BUILD) etcd

tools-kube-apiserver:
	$(TOOLS_BUILD) kube-apiserver

tools-kube-controller-manager:
	$(TOOLS_BUILD) kube-controller-manager

tools-node:
	$(TOOLS_BUILD) kube-scheduler kubelet kube-proxy kubectl coredns

tools-gitops:
	$(TOOLS_BUILD) kstatus argocd-health actionlint

tools-helm:
	$(TOOLS_BUILD) helm

tools-prometheus-operator:
	$(TOOLS_BUILD) prometheus-operator prometheus-config-reloader prometheus-pod

tools-telemetrygen:
	$(TOOLS_BUILD) telemetrygen
