package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/internal/doctor"
)

// cmdDoctor runs `recpolicy doctor --config FILE`: everything the daemon
// depends on, checked against the running PBX, the database and this
// machine; exit 0 only when nothing fails.
func cmdDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy doctor"
	fs, cfgFile := commandFlags(name, stderr)
	etc := fs.String("asterisk-etc", "/etc/asterisk", "the PBX's configuration folder (manager.conf, cdr_manager.conf), when it is on this machine")
	daemonUser := fs.String("daemon-user", "", "the user the daemon runs as (default: recpolicy when it exists)")
	asJSON := fs.Bool("json", false, "print JSON")
	if rc := parseFlagsOnly(fs, args, stderr, name); rc != 0 {
		return rc
	}
	if *cfgFile == "" {
		return exitCode(stderr, name, badUsage("--config is required: %s", configHint))
	}
	cfg, err := loadConfig(*cfgFile)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	r, err := loadRules(cfg.RulesFile)
	if err != nil {
		return exitCode(stderr, name, fmt.Errorf("rules_file: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep := doctor.Run(ctx, doctor.Options{Config: cfg, ConfigFile: *cfgFile, Rules: r, AsteriskEtc: *etc, DaemonUser: *daemonUser, Log: zerolog.Nop()})
	if *asJSON {
		if rc := writeJSON(stdout, stderr, name, rep); rc != 0 {
			return rc
		}
	} else {
		marks := map[doctor.Status]string{doctor.OK: "ok  ", doctor.Warn: "WARN", doctor.Fail: "FAIL"}
		for _, f := range rep.Findings {
			fmt.Fprintf(stdout, "%s  %-20s %s\n", marks[f.Status], f.Check, f.Detail)
			if f.Fix != "" {
				where := ""
				if f.File != "" {
					where = " (in " + f.File + ")"
				}
				fmt.Fprintf(stdout, "      %-20s → %s%s\n", "", f.Fix, where)
			}
		}
	}
	if !rep.OK() {
		n := 0
		for _, f := range rep.Findings {
			if f.Status == doctor.Fail {
				n++
			}
		}
		fmt.Fprintf(stderr, "%s: %d problem%s to fix (above, each with what to change and where)\n", name, n, strings.Repeat("s", min(n-1, 1)))
		return 1
	}
	return 0
}
