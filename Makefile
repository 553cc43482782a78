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
# Run / test: to be added. `make test` should export MAGNETAR_REQUIRE_PULSAR=1 and depend on
# pulsar-up, so that integration tests (internal/testbroker.Require) fail instead of skipping
# when no broker is reachable.
# ---------------------------------------------------------------------------------------------
