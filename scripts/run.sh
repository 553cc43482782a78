#!/usr/bin/env bash
# scripts/run.sh — the README's first command (`make run`): build Magnetar, start a local Pulsar if
# none answers, load a small Nexmark data set once, and open the shell on it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ADMIN="${MAGNETAR_ADMIN_URL:-http://127.0.0.1:8080}"
EVENTS="${MAGNETAR_SAMPLE_EVENTS:-100000}"

echo "run: building bin/magnetar" >&2
go build -o bin/magnetar ./cmd/magnetar

if ! curl -fsS -m 3 "$ADMIN/admin/v2/brokers/health" >/dev/null 2>&1; then
	if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1 || ! scripts/pulsar.sh up >&2; then
		echo "run: no local Pulsar could be started (Java 21+ and Maven are needed); opening the shell on the memory catalog with the Nexmark sample instead" >&2
		exec bin/magnetar shell --catalog memory --sample nexmark --database nexmark "$@"
	fi
fi

# Load the sample only once: later runs reuse the topics (retention is infinite).
if ! curl -fsS -m 5 "$ADMIN/admin/v2/persistent/public/nexmark" 2>/dev/null | grep -q 'nexmark/bid'; then
	echo "run: loading $EVENTS Nexmark events into public/nexmark (person, auction, bid)" >&2
	bin/magnetar gen nexmark --events "$EVENTS" --namespace public/nexmark
fi

exec bin/magnetar shell --admin-url "$ADMIN" --database public/nexmark "$@"
