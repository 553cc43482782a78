# Magnetar developer targets.
#
# Sections: Pulsar broker (below), build, run, test. Each section owns its targets; add new
# sections at the end rather than editing another section's recipes.

SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help
help: ## list targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-18s %s\n", $$1, $$2}'

# ---------------------------------------------------------------------------------------------
# Pulsar broker: a real Apache Pulsar standalone broker on 127.0.0.1:6650 (service) and :8080
# (admin), provisioned by scripts/pulsar.sh. Cache: $(MAGNETAR_CACHE_DIR) or ~/.cache/magnetar;
# data: $(MAGNETAR_PULSAR_DATA) or ~/.cache/magnetar/pulsar-data. Integration tests find it through
# internal/testbroker (MAGNETAR_SERVICE_URL / MAGNETAR_ADMIN_URL to point them elsewhere).
# ---------------------------------------------------------------------------------------------
PULSAR := scripts/pulsar.sh

.PHONY: pulsar-install pulsar-up pulsar-down pulsar-status pulsar-wipe
pulsar-install: ## download (or reuse), verify and unpack Apache Pulsar into the cache
	@$(PULSAR) install

pulsar-up: ## start the standalone broker in the background and wait until it serves
	@$(PULSAR) up

pulsar-down: ## stop the broker (SIGTERM, then SIGKILL after 30 s)
	@$(PULSAR) down

pulsar-status: ## print whether the broker runs, its versions and addresses
	@$(PULSAR) status

pulsar-wipe: ## stop the broker and delete its data directory
	@$(PULSAR) wipe

# ---------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------
.PHONY: build
build: ## build bin/magnetar
	go build -o bin/magnetar ./cmd/magnetar

# ---------------------------------------------------------------------------------------------
# Run and test: the README's two commands.
# ---------------------------------------------------------------------------------------------
.PHONY: run test unit-test

run: ## start a local Pulsar if none answers, load a small Nexmark data set, open the shell
	@scripts/run.sh

test: ## unit tests plus integration tests against a real local Pulsar (started if needed)
	@scripts/test.sh

unit-test: ## only the tests that need no broker (integration tests skip with a reason)
	go test ./...

# ---------------------------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------------------------
.PHONY: bench-latency fault-1m
bench-latency: ## end-to-end latency of a continuous TUMBLE query through the local broker (p50/p99), and a backlog catch-up
	go test ./engine -run '^$$' -bench 'Latency|CatchUp' -benchtime 1x -timeout 30m

fault-1m: ## the SIGKILL fault tests at the issue's size: 1 M Nexmark events over 2 minutes, three kills, both deliveries
	MAGNETAR_FAULT_EVENTS=1000000 MAGNETAR_FAULT_SECONDS=120 go test ./jobs/faulttest -run 'TestSIGKILL' -count=1 -v -timeout 30m
