package main

import (
	"strings"
	"testing"
)

// --database (or MAGNETAR_DATABASE) starts the shell in a database, as
// `make run` does with the Nexmark sample; a missing one is refused before
// any statement runs, without a position in SQL the user never typed.
func TestShellDatabaseFlag(t *testing.T) {
	res := runCLI(t, "", "--catalog", "memory", "--sample", "nexmark", "--sample-events", "1000",
		"--database", "nexmark", "--format", "csv", "-e", "SELECT database() AS db; SELECT count(*) > 0 AS some FROM bid")
	if res.code != 0 || res.stdout != "db\nnexmark\nsome\ntrue\n" {
		t.Fatalf("--database nexmark: %s", res)
	}
	res = runShellEnv(t, []string{"MAGNETAR_DATABASE=nexmark"}, "", "--catalog", "memory", "--sample", "nexmark",
		"--sample-events", "1000", "--format", "csv", "-e", "SELECT database() AS db")
	if res.code != 0 || res.stdout != "db\nnexmark\n" {
		t.Fatalf("MAGNETAR_DATABASE: %s", res)
	}
	res = runCLI(t, "", "--catalog", "memory", "--database", "nosuch", "-e", "SELECT 1")
	if res.code != 2 || !strings.Contains(res.stderr, `--database nosuch: unknown database "nosuch"`) || strings.Contains(res.stderr, "column") {
		t.Fatalf("missing database: %s", res)
	}
}
