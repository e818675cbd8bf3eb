// Command recpolicy is the City of Mercier's call-recording daemon and its
// administrators' tools: `recpolicy run` runs the daemon; the other
// commands (see `recpolicy help`, made from the table in commands.go)
// check and explain the rules file and reach the archive through the
// access guard.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command args names; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return dispatch(ctx, commandTable(), args, stdout, stderr)
}
