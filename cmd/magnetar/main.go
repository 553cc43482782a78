// Command magnetar is the Magnetar streaming SQL engine: an interactive shell,
// a data generator and (later) a server, all in one binary.
package main

import (
	"fmt"
	"os"
)

// commands maps each subcommand to its entry point. Each subcommand lives in
// its own file so that they can grow independently.
var commands = map[string]func(args []string) int{}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: magnetar <command> [flags]

commands:
  shell   interactive SQL shell (or -e SQL / -f FILE)
  serve   Arrow Flight SQL server (JDBC, ADBC, pyarrow) that also runs durable jobs
  gen     generate sample data (magnetar gen nexmark --events N)`)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "magnetar: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	os.Exit(cmd(os.Args[2:]))
}
