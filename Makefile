# Accord — developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build the library, the binaries and the tests
	$(CARGO) build --locked --all-targets

.PHONY: unit
unit: ## Run the unit and integration tests that need no cluster
	$(CARGO) test --locked

.PHONY: lint
lint: ## cargo fmt --check, clippy with warnings as errors, the layers inside each crate, shellcheck on every script
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	python3 hack/check-layers.py
	shellcheck .ci/run $$(git ls-files '*.sh' | grep -v '^charts/')

.PHONY: crds
crds: ## Regenerate crds/, the chart's copy, docs/reference.md and docs/promotion-predicate.schema.json from the Rust types
	$(CARGO) run --locked -q --bin crdgen -- --out-dir crds
	rm -f charts/accord/files/crds/*.yaml && cp crds/*.yaml charts/accord/files/crds/
	$(CARGO) run --locked -q --bin crdgen -- --reference > docs/reference.md
	$(CARGO) run --locked -q --bin crdgen -- --predicate-schema > docs/promotion-predicate.schema.json

.PHONY: crds-check
crds-check: ## Fail when crds/, docs/reference.md or docs/promotion-predicate.schema.json differs from what the Rust types generate
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(CARGO) run --locked -q --bin crdgen -- --out-dir "$$tmp/crds" && \
	$(CARGO) run --locked -q --bin crdgen -- --reference > "$$tmp/reference.md" && \
	$(CARGO) run --locked -q --bin crdgen -- --predicate-schema > "$$tmp/promotion-predicate.schema.json" && \
	if diff -ru crds "$$tmp/crds" && diff -u docs/reference.md "$$tmp/reference.md" && \
	   diff -u docs/promotion-predicate.schema.json "$$tmp/promotion-predicate.schema.json"; \
	then echo "crds/, docs/reference.md and docs/promotion-predicate.schema.json are up to date"; \
	else echo "crds/, docs/reference.md or docs/promotion-predicate.schema.json is stale: run 'make crds' and commit the result" >&2; exit 1; fi

.PHONY: cluster-build
cluster-build: ## Build and cache the local control plane and Flux binaries (minutes, once)
	e2e/cluster/build.sh
	e2e/flux/build.sh

.PHONY: cluster-up
cluster-up: ## Start the local control plane (etcd, apiserver, controller-manager, scheduler, KWOK)
	e2e/cluster/up.sh

.PHONY: cluster-down
cluster-down: ## Stop the local control plane and remove .cluster/
	e2e/cluster/down.sh

.PHONY: cluster-status
cluster-status: ## Say which control-plane processes run
	e2e/cluster/status.sh

.PHONY: e2e
e2e: ## End-to-end tests on the local control plane (brings it up and down)
	e2e/run.sh

.PHONY: docs-screenshots
docs-screenshots: ## Screenshots of `kubectl accord board` in headless Chromium (its e2e) into docs/board/
	ACCORD_SCREENSHOTS_DIR=$(CURDIR)/docs/board e2e/run.sh --test board screenshots
	@echo "screenshots of the board: $(CURDIR)/docs/board/{owed,models,model}.png"

.PHONY: bench
bench: ## Benchmarks: admission and decision latency (p50/p99) and allocation, against in-run baselines
	$(CARGO) bench --locked --bench decisions

.PHONY: bench-scale
bench-scale: ## Accord at N ModelDeployments (N=1000 default; POLICIES=20 adds HandoffPolicies; UPSTREAMS=1 a staging upstream each; GUARDS=1 a monitoring guard each, measured quiet; RECORDS=1 the gate with and without PromotionRecords, their etcd bytes and audit export of 10,000; BOARD=0 skips timing the board's pages) on the local control plane, against in-run baselines
	N=$(or $(N),1000) POLICIES=$(or $(POLICIES),0) UPSTREAMS=$(or $(UPSTREAMS),0) RECORDS=$(or $(RECORDS),0) BOARD=$(or $(BOARD),1) hack/bench-scale.sh

.PHONY: image
image: ## The operator's OCI image without a container runtime (crane; static binary; SBOM): target/image/oci and its digest
	hack/image.sh

.PHONY: run
run: ## Local cluster (unless KUBECONFIG is set), CRDs, examples, and the operator in the foreground
	hack/run.sh

.PHONY: chart-check
chart-check: ## Chart CRDs identical, helm lint/template, values schema, promtool rules tests
	hack/chart-check.sh

.PHONY: test
test: ## Everything: lint, CRD freshness, chart checks, unit and e2e tests (with a table of stage times)
	hack/stages.sh lint crds-check chart-check unit e2e
