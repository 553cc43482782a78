#!/usr/bin/env bash
# scripts/test.sh — the README's test command (`make test`): vet and format checks, then every test,
# with integration tests required to find a real Pulsar broker (started here if none answers, and
# stopped again at the end if this script started it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=0
cleanup() {
	if [[ $started == 1 ]]; then scripts/pulsar.sh down || true; fi
}
trap cleanup EXIT

unformatted="$(gofmt -l $(git ls-files '*.go'))"
if [[ -n $unformatted ]]; then
	echo "test: gofmt needed on:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...

if ! curl -fsS -m 3 http://127.0.0.1:8080/admin/v2/brokers/health >/dev/null 2>&1; then
	started=1
	scripts/pulsar.sh up
fi

export MAGNETAR_REQUIRE_PULSAR=1
# -p 2: two cores; the broker shares them.
go test -p 2 -timeout 25m -count=1 ./... "$@"
