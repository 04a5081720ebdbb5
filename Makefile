# operator-node: every target sets up what it needs, so each works on a fresh clone.
#   make devnet   start the local devnet (the README's first command)
#   make test     set up, then lint, type-check and run the test suite (what CI runs)
#   make bench    set up, then run every benchmark under bench/
#   make reliability  set up, then attack a devnet and write the figures to docs/reliability.md
#   make monitoring   a real Prometheus with the alert rules against a running devnet (monitoring/)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMPS := .make

.PHONY: setup devnet run test lint typecheck pytest bench reliability contracts clean

setup: $(STAMPS)/python $(STAMPS)/node

# promtool and prometheus (Debian package prometheus) check the metrics exposition and the
# monitoring kit (tests/monitoring); those tests skip with their reason where apt is not available.
# The package would also enable and start a Prometheus server: a policy-rc.d that refuses
# service starts is in place during the install (unless one exists), and the unit is disabled.
$(STAMPS)/tools:
	@mkdir -p $(STAMPS)
	@command -v promtool >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' \
	         > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d && touch $(STAMPS)/rcd; }; } \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	     --no-install-recommends prometheus >/dev/null; \
	  status=$$?; [ -e $(STAMPS)/rcd ] && rm -f /usr/sbin/policy-rc.d $(STAMPS)/rcd; \
	  command -v systemctl >/dev/null && systemctl disable --now prometheus >/dev/null 2>&1; \
	  [ $$status = 0 ]; } \
	  || echo "promtool unavailable: the promtool test will be skipped"
	@touch $@

# The venv is rebuilt whenever the build description or the C sources change.
$(STAMPS)/python: pyproject.toml setup.py $(wildcard operator_node/*/*.c operator_node/*/*.h)
	@mkdir -p $(STAMPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

$(STAMPS)/node: package.json package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Benchmark peers. creedsolo is reedsolo's own Cython build: reinstall the pinned reedsolo from
# source with it (same version, so the node's dependency is unchanged). cython and wheel come from
# bench/requirements.txt, setuptools from the venv; no cache, or pip reuses a wheel built without.
$(STAMPS)/bench: $(STAMPS)/python bench/requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
	    --no-cache-dir --no-binary reedsolo --no-build-isolation --use-pep517 \
	    --config-settings="--build-option=--cythonize" reedsolo==1.7.0
	$(BIN)/python -c "import creedsolo"
	@touch $@

# ISA-L 2.32.1 (the erasure bench's reference peer), built from the copy of its source that the
# pinned isal sdist carries under src/isal/isa-l; the isal package itself is not installed. Its
# kernels need nasm: without it (no root or no apt-get) the library is not built, the stamp is
# not written and the bench reports the peer unavailable. The stamp names the pin, so changing
# it rebuilds.
ISAL_VERSION := 1.9.1
ISAL_DIR     := build/isal
$(STAMPS)/isal-$(ISAL_VERSION): | $(STAMPS)/python
	@command -v nasm >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	     --no-install-recommends nasm >/dev/null; } \
	  || echo "nasm unavailable: ISA-L 2.32 not built, the erasure bench will skip it"
	@if command -v nasm >/dev/null; then set -e; rm -rf $(ISAL_DIR); mkdir -p $(ISAL_DIR); \
	  $(BIN)/python -m pip download --quiet --disable-pip-version-check --no-deps \
	      --no-binary isal -d $(ISAL_DIR) isal==$(ISAL_VERSION); \
	  tar -xzf $(ISAL_DIR)/isal-$(ISAL_VERSION).tar.gz --no-same-owner -C $(ISAL_DIR); \
	  $(MAKE) -s -C $(ISAL_DIR)/isal-$(ISAL_VERSION)/src/isal/isa-l -f Makefile.unx slib \
	      >$(ISAL_DIR)/build.log; \
	  cp $(ISAL_DIR)/isal-$(ISAL_VERSION)/src/isal/isa-l/bin/libisal.so $(ISAL_DIR)/libisal.so; \
	  mkdir -p $(STAMPS); touch $@; fi

devnet: setup
	$(BIN)/operator-node devnet

run: setup
	$(BIN)/operator-node run --config config/example.toml

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup $(STAMPS)/tools
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMPS)/bench $(STAMPS)/node $(STAMPS)/isal-$(ISAL_VERSION)
	@for b in $(filter-out bench/reliability.py,$(wildcard bench/*.py)); do \
	  echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Bounded (a few minutes), loopback only; rewrites the table in docs/reliability.md.
reliability: setup
	$(BIN)/python bench/reliability.py

# The monitoring kit against a devnet started with `operator-node devnet --dir $(DEVNET_DIR)`:
# `monitoring` runs the local Prometheus (Debian package prometheus) with the kit's rules on
# 127.0.0.1:9090 until Ctrl-C; `monitoring-config` only writes the configuration, with the
# devnet's targets, to $(DEVNET_DIR)/monitoring (for monitoring/compose.yml).
DEVNET_DIR ?= devnet-data
.PHONY: monitoring monitoring-config
monitoring: setup $(STAMPS)/tools
	$(BIN)/python monitoring/devnet_prometheus.py --devnet-dir $(DEVNET_DIR)

monitoring-config: setup
	$(BIN)/python monitoring/devnet_prometheus.py --devnet-dir $(DEVNET_DIR) --config-only

# Recompile the Solidity sources into operator_node/chain/artifacts (committed; a test checks them).
contracts: $(STAMPS)/node
	node contracts/compile.js

clean:
	rm -rf $(VENV) $(STAMPS) node_modules build dist *.egg-info
