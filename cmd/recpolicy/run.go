package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/villedemercier/recpolicy/internal/access"
	"github.com/villedemercier/recpolicy/internal/daemon"
)

// runDaemon runs `recpolicy run --config FILE` until ctx ends (SIGINT,
// SIGTERM); SIGHUP reloads the rules.
func runDaemon(ctx context.Context, args []string, _, stderr io.Writer) int {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	return cmdRun(ctx, args, reload, stderr)
}

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
	if _, ok := access.Sudo(); ok {
		// The daemon reads the config and its secrets: under sudo, only
		// root's own files, and no problem's words shown.
		if _, err := loadConfig(*cfg); err != nil {
			fmt.Fprintf(stderr, "recpolicy run: %v\n", err)
			return 1
		}
	}
	if err := daemon.Run(ctx, daemon.Options{ConfigFile: *cfg, Reload: reload, Log: stderr}); err != nil {
		fmt.Fprintf(stderr, "recpolicy run: %v\n", err)
		return 1
	}
	return 0
}
