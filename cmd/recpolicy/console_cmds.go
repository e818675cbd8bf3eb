package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/accounts"
	"github.com/villedemercier/recpolicy/internal/auth"
	"github.com/villedemercier/recpolicy/internal/console"
	"github.com/villedemercier/recpolicy/internal/daemon"
	"github.com/villedemercier/recpolicy/rules"
)

// runConsole runs `recpolicy console --config FILE`: the web console, its
// own process beside the daemon, until SIGINT or SIGTERM; SIGHUP reloads
// the rules (departments, directors, confidential extensions).
func runConsole(ctx context.Context, args []string, _, stderr io.Writer) int {
	const name = "recpolicy console"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "", "daemon configuration file (required): its console, archive and access sections")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cfgFile == "" || fs.NArg() > 0 {
		return exitCode(stderr, name, badUsage("give the configuration file: recpolicy console --config /etc/recpolicy/recpolicy.yaml"))
	}
	cfg, err := loadConfig(*cfgFile)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	lvl, _ := zerolog.ParseLevel(cfg.LogLevel)
	log := daemon.NewLogger(stderr, lvl, "recpolicy-console")
	r, err := loadRules(cfg.RulesFile)
	if err != nil {
		return exitCode(stderr, name, fmt.Errorf("load rules %s (rules_file of %s): %w", cfg.RulesFile, *cfgFile, err))
	}
	var current atomic.Pointer[rules.Rules]
	current.Store(r)
	dsn, err := cfg.Archive.DSN.Resolve()
	if err != nil {
		return exitCode(stderr, name, fmt.Errorf("archive.dsn: %w", err))
	}
	st, err := archive.Connect(dsn)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer st.Close()
	policy := &auth.Policy{LockAfter: cfg.Console.LockAfter, LockFor: cfg.Console.LockFor.Std()}
	var a console.Authenticator = auth.NewLocal(accounts.NewStore(st), policy)
	if l := cfg.Console.LDAP; l != nil {
		var pw string
		if l.BindPassword.Set() {
			if pw, err = l.BindPassword.Resolve(); err != nil {
				return exitCode(stderr, name, fmt.Errorf("console.ldap.bind_password: %w", err))
			}
		}
		dir, err := auth.NewLDAP(auth.LDAPConfig{URL: l.URL, StartTLS: l.StartTLS, CAFile: l.CAFile, BindDN: l.BindDN, BindPassword: pw,
			BaseDN: l.BaseDN, UserFilter: l.UserFilter, GroupFilter: l.GroupFilter, AdminGroup: l.AdminGroup, ReviewerGroup: l.ReviewerGroup, TrainerGroup: l.TrainerGroup}, policy)
		if err != nil {
			return exitCode(stderr, name, fmt.Errorf("console.ldap: %w", err))
		}
		a = auth.Chain{Directory: dir, Local: auth.NewLocal(accounts.NewStore(st), policy)}
	}
	srv, err := console.New(console.Options{Config: cfg, Store: st, Rules: current.Load, Auth: a, Log: log})
	if err != nil {
		return exitCode(stderr, name, err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { // owned here: ends with ctx
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if nr, err := loadRules(cfg.RulesFile); err != nil {
					log.Error().Err(err).Msg("rules not reloaded; the console keeps the rules it had")
				} else {
					current.Store(nr)
					log.Info().Str("sha256", nr.Digest()).Msg("rules reloaded")
				}
			}
		}
	}()
	err = srv.Run(ctx)
	cancel()
	<-done
	if err != nil {
		return exitCode(stderr, name, err)
	}
	return 0
}

// readPassword reads one line of stdin: the password, given through a
// pipe (never on the command line, where ps shows it).
func readPassword(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", badUsage("give the password on standard input, e.g. printf '%%s\\n' \"$MOT_DE_PASSE\" | recpolicy users add LOGIN --config FILE")
	}
	return pw, nil
}

// usersCmd runs `recpolicy users add|passwd|disable|enable|list`: the
// console's local accounts, the administrators' to keep.
func usersCmd(step string, stdin io.Reader) func(context.Context, []string, io.Writer, io.Writer) int {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		name := "recpolicy users " + step
		fs, cfgFile := commandFlags(name, stderr)
		display := fs.String("name", "", "the person's name, as the console shows it (add)")
		pos, err := parseInterleaved(fs, args)
		if err != nil {
			return 2
		}
		wantLogin := step != "list"
		if (wantLogin && len(pos) != 1) || (!wantLogin && len(pos) != 0) {
			return exitCode(stderr, name, badUsage("usage: recpolicy users %s %s--config FILE", step, map[bool]string{true: "LOGIN ", false: ""}[wantLogin]))
		}
		var pw string
		if step == "add" || step == "passwd" {
			if pw, err = readPassword(stdin); err != nil {
				return exitCode(stderr, name, err)
			}
		}
		env, err := retentionEnv(ctx, *cfgFile, name)
		if err != nil {
			return exitCode(stderr, name, err)
		}
		defer env.store.Close()
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		acc := accounts.NewStore(env.store)
		if step == "list" {
			users, err := acc.ListUsers(ctx)
			if err != nil {
				return exitCode(stderr, name, dbHint(err, *cfgFile))
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "LOGIN\tNAME\tSTATE\tPASSWORD CHANGED")
			for _, u := range users {
				state := "active"
				if u.Disabled {
					state = "disabled"
				} else if u.LockedUntil != nil && u.LockedUntil.After(time.Now()) {
					state = "locked until " + u.LockedUntil.In(env.rules.Location()).Format("15:04")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Login, u.DisplayName, state, u.ChangedAt.In(env.rules.Location()).Format("2006-01-02"))
			}
			tw.Flush()
			return 0
		}
		login := strings.TrimSpace(pos[0])
		switch step {
		case "add", "passwd":
			hash, err := auth.HashPassword(pw)
			if err != nil {
				return exitCode(stderr, name, badUsage("%v: choose a longer one (a phrase of several words)", err))
			}
			if step == "add" {
				err = acc.AddUser(ctx, login, strings.TrimSpace(*display), hash)
			} else {
				err = acc.SetPassword(ctx, login, hash)
			}
			if err != nil {
				return exitCode(stderr, name, dbHint(err, *cfgFile))
			}
		case "disable", "enable":
			if err := acc.SetDisabled(ctx, login, step == "disable"); err != nil {
				return exitCode(stderr, name, dbHint(err, *cfgFile))
			}
		}
		if err := env.audit(ctx, name, login, "", nil, "granted", nil); err != nil {
			return exitCode(stderr, name, err)
		}
		fmt.Fprintf(stdout, "%s: %s done\n", login, step)
		return 0
	}
}
