package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/villedemercier/recpolicy/internal/daemon"
)

func cmdRun(ctx context.Context, args []string, reload <-chan struct{}, stderr io.Writer) int {
	fs := flag.NewFlagSet("recpolicy run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "", "daemon configuration file (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cfg == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "recpolicy run: give the configuration file: recpolicy run --config /etc/recpolicy/recpolicy.yaml")
		return 2
	}
	if err := daemon.Run(ctx, daemon.Options{ConfigFile: *cfg, Reload: reload, Log: stderr}); err != nil {
		fmt.Fprintf(stderr, "recpolicy run: %v\n", err)
		return 1
	}
	return 0
}
