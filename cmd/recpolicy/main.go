// Command recpolicy enforces the City of Mercier's call-recording policy
// beside its Asterisk PBX.
//
//	recpolicy run --config FILE                run the daemon
//	recpolicy rules check FILE...              validate rules files (exit 0 valid, 1 invalid)
//	recpolicy rules test FILE --from X --to Y [--via TRUNK]
//	                                           would this call be recorded, and why
//	recpolicy rules show FILE                  extensions by department, with flags
//	recpolicy migrate --config FILE            apply the database schema
//	recpolicy recordings list --config FILE    filed recordings (filters, --json)
//	recpolicy calls list --config FILE         call detail records (filters, --json)
//	recpolicy recordings get ID --out FILE     a checked copy for someone allowed to have it
//	recpolicy requests …                       the register of written requests for access
//	recpolicy access log --config FILE         who accessed what, and what was refused
//
// Archive commands act for the operating system's login (under sudo, the
// user who ran sudo): administrators (daemon config access.administrators)
// see everything; directors (director_user in the rules file) only their
// department's extensions, never a confidential extension's calls; every
// access and refusal goes to the access log first.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  recpolicy run --config FILE
  recpolicy rules check FILE...
  recpolicy rules test FILE --from X --to Y [--via TRUNK]     (X, Y: a phone, NUMBER@TRUNK, or a number)
  recpolicy rules show FILE
  recpolicy migrate --config FILE
  recpolicy recordings list --config FILE [--extension N[,N]] [--department ID] [--direction inbound|outbound|other]
                            [--since T] [--until T] [--number N] [--json] [--limit N]
  recpolicy calls list --config FILE [same filters]
  recpolicy recordings get ID --config FILE --out FILE (--purpose TEXT | --request N)
  recpolicy requests add|list|show|decide|close --config FILE ...   the register of written requests
  recpolicy access log --config FILE [--login NAME] [--since T] [--until T] [--json]
  recpolicy recordings destroy ID|PATH --config FILE --reason TEXT --by NAME [--early REF] [--dry-run]
  recpolicy hold add|release|list --config FILE ...
  recpolicy export --training --config FILE ...   |  recpolicy export list --config FILE
  recpolicy retention purge [--dry-run] | verify | destroy | log  --config FILE
  recpolicy quarantine list|replay --config FILE [--json]   what could not be archived; try it again after a fix
  recpolicy version
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
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
		return cmdRun(ctx, args[1:], reload, stderr)
	case "rules":
		return cmdRules(args[1:], stdout, stderr)
	case "migrate":
		return cmdMigrate(args[1:], stdout, stderr)
	case "recordings":
		return cmdRecordings(args[1:], stdout, stderr)
	case "calls":
		return cmdCalls(args[1:], stdout, stderr)
	case "hold":
		return cmdHold(args[1:], stdout, stderr)
	case "export":
		return cmdExport(args[1:], stdout, stderr)
	case "retention":
		return cmdRetention(args[1:], stdout, stderr)
	case "requests":
		return cmdRequests(args[1:], stdout, stderr)
	case "access":
		return cmdAccess(args[1:], stdout, stderr)
	case "quarantine":
		return cmdQuarantine(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "recpolicy", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "recpolicy: unknown command %q\n%s", args[0], usage)
		return 2
	}
}
