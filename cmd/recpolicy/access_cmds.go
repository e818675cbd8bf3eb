package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/internal/access"
)

// outFile checks --out before anything is read: a new file in a folder
// that exists, and under sudo a folder the caller owns (root writes for the
// caller only where the caller could write). It returns how to create it:
// mode 0600, never over a file nor through a link, given to the caller
// under sudo.
func outFile(out string) (func(string) (*os.File, error), error) {
	if _, err := os.Lstat(out); err == nil {
		return nil, badUsage("--out %s exists: give a new file name (a copy never overwrites a file)", out)
	}
	if fi, err := os.Stat(filepath.Dir(out)); err != nil || !fi.IsDir() {
		return nil, badUsage("--out %s: its directory %s does not exist", out, filepath.Dir(out))
	}
	if c, ok := access.Sudo(); ok {
		if err := access.CheckCallersFolder(c, filepath.Dir(out)); err != nil {
			return nil, fmt.Errorf("--out %s: %w", out, err)
		}
		return func(p string) (*os.File, error) { return access.CreateFor(c, p) }, nil
	}
	return func(p string) (*os.File, error) {
		return os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	}, nil
}

// recordingsGet runs `recpolicy recordings get ID --out FILE …`: a copy of
// one recording for someone allowed to have it, checked against its
// checksum, with the access logged first.
func recordingsGet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy recordings get"
	fs, cfgFile := commandFlags(name, stderr)
	out := fs.String("out", "", "the copy's file name, a new file (required)")
	purpose := fs.String("purpose", "", "why (policy: customer service, e.g. \"statistiques\", \"gestion RH\"; or a complaint or litigation with --request)")
	request := fs.Int64("request", 0, "the granted request of the register this access serves (recpolicy requests list)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	switch {
	case len(pos) != 1:
		return exitCode(stderr, name, badUsage("name one recording: recpolicy recordings get ID --out FILE --purpose TEXT (ids: recpolicy recordings list)"))
	case *cfgFile == "":
		return exitCode(stderr, name, badUsage("--config is required: %s", configHint))
	case strings.TrimSpace(*out) == "":
		return exitCode(stderr, name, badUsage("--out is required: the copy's new file name, e.g. --out /tmp/plainte-42.wav"))
	case strings.TrimSpace(*purpose) == "" && *request == 0:
		return exitCode(stderr, name, badUsage("say why: --purpose TEXT (e.g. --purpose \"qualité du service\"), or --request N for a registered written request"))
	case *request < 0:
		return exitCode(stderr, name, badUsage("--request %d is not a request number (recpolicy requests list)", *request))
	}
	create, err := outFile(*out)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	env, err := openArchiveEnv(*cfgFile, true)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var reqID *int64
	if *request > 0 {
		reqID = request
	}
	// Logged before the copy: an access the log cannot hold does not happen.
	if err := env.tool(ctx, name); err != nil {
		return exitCode(stderr, name, err)
	}
	rec, err := env.guard.Recording(ctx, name, pos[0], *purpose, reqID, map[string]any{"out": *out})
	if err != nil {
		return exitCode(stderr, name, err)
	}
	if err := register.CopyOut(env.cfg.Archive.Dir, rec, *out, create); err != nil {
		// The grant is logged; so is that nothing was handed over.
		if aerr := env.audit(ctx, name, strconv.FormatInt(rec.ID, 10), *purpose, reqID, register.Refused,
			map[string]any{"reason": "copy failed, nothing handed over: " + err.Error()}); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return exitCode(stderr, name, err)
	}
	fmt.Fprintf(stdout, "recording %d (extension %s, %s) copied to %s; sha256 %s\n", rec.ID, rec.Extension,
		rec.Start.In(env.rules.Location()).Format("2006-01-02 15:04"), *out, rec.SHA256)
	fmt.Fprintln(stdout, "the policy: destroy this copy once it is no longer needed for its purpose")
	return 0
}

// int64List is a repeatable flag of ids.
type int64List []int64

func (l *int64List) String() string { return fmt.Sprint([]int64(*l)) }

func (l *int64List) Set(s string) error {
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("%q is not a recording id (digits; recpolicy recordings list shows them)", f)
		}
		*l = append(*l, n)
	}
	return nil
}

func requestsAdd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy requests add"
	fs, cfgFile := commandFlags(name, stderr)
	received := fs.String("received", "", "the date the written request arrived, 2026-11-20 (required)")
	via := fs.String("via", "", "how it arrived in writing: courriel or guichet (required)")
	requester := fs.String("requester", "", "who asks (required)")
	purpose := fs.String("purpose", "", "plainte, commentaire or litige (required)")
	subject := fs.String("subject", "", "what it is about (required)")
	var recs int64List
	fs.Var(&recs, "recording", "a recording the request is about (repeatable, or comma-separated ids)")
	if rc := parseFlagsOnly(fs, args, stderr, name); rc != 0 {
		return rc
	}
	day, err := time.Parse(time.DateOnly, strings.TrimSpace(*received))
	if err != nil {
		return exitCode(stderr, name, badUsage("--received %q is not a date: give the day the written request arrived, e.g. --received 2026-11-20", *received))
	}
	env, err := retentionEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	r, err := env.register.AddRequest(ctx, register.AccessRequest{ReceivedOn: day, Channel: *via, Requester: *requester,
		Purpose: *purpose, Subject: *subject, Recordings: recs, RegisteredBy: env.login()})
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	fmt.Fprintf(stdout, "request %d registered (%s, %s by %s, recordings %v); the IT department's opinion: recpolicy requests decide %d --grant|--refuse --note TEXT; the Greffe's: in the console\n",
		r.ID, r.Purpose, r.Channel, r.Requester, r.Recordings, r.ID)
	return 0
}

func requestsList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy requests list"
	fs, cfgFile := commandFlags(name, stderr)
	open := fs.Bool("open", false, "only requests not closed")
	asJSON := fs.Bool("json", false, "print JSON")
	if rc := parseFlagsOnly(fs, args, stderr, name); rc != 0 {
		return rc
	}
	env, err := registerEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	reqs, err := env.register.ListRequests(ctx, *open)
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if *asJSON {
		return writeJSON(stdout, stderr, name, reqs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tVIA\tREQUESTER\tPURPOSE\tSTATUS\tRECORDINGS\tSUBJECT")
	for _, r := range reqs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%v\t%s\n", r.ID, r.ReceivedOn.Format(time.DateOnly), r.Channel, r.Requester,
			r.Purpose, r.Status, r.Recordings, r.Subject)
	}
	tw.Flush()
	return 0
}

// registerEnv opens the archive for reading the register of written
// requests: administrators and the Greffe's reviewers (access logged).
func registerEnv(ctx context.Context, configFile, action string) (*archiveEnv, error) {
	return authorizedEnv(ctx, configFile, func(ctx context.Context, env *archiveEnv) error {
		if err := env.tool(ctx, action); err != nil {
			return err
		}
		return env.guard.AuthorizeRegister(ctx, action, "")
	})
}

// requestsStep runs show, decide and close on one request.
func requestsStep(ctx context.Context, step string, args []string, stdout, stderr io.Writer) int {
	name := "recpolicy requests " + step
	fs, cfgFile := commandFlags(name, stderr)
	grant := fs.Bool("grant", false, "decide: grant the request")
	refuse := fs.Bool("refuse", false, "decide: refuse the request")
	note := fs.String("note", "", "decide, close: the decision's grounds, or how the request ended (required)")
	asJSON := fs.Bool("json", false, "show: print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		return exitCode(stderr, name, badUsage("name one request: %s N --config FILE (numbers: recpolicy requests list)", name))
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return exitCode(stderr, name, badUsage("%q is not a request number (recpolicy requests list)", pos[0]))
	}
	if step == "decide" && *grant == *refuse {
		return exitCode(stderr, name, badUsage("give exactly one of --grant and --refuse"))
	}
	open := retentionEnv
	if step == "show" {
		open = registerEnv
	}
	env, err := open(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var r register.AccessRequest
	switch step {
	case "show":
		r, err = env.register.GetRequest(ctx, id)
	case "decide":
		// The IT department's opinion; the request is decided when the
		// Greffe's (given in the console) agrees.
		r, err = env.register.GiveOpinion(ctx, id, register.SideIT, env.login(), *grant, *note)
	case "close":
		r, err = env.register.CloseRequest(ctx, id, env.login(), *note)
	}
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if *asJSON {
		return writeJSON(stdout, stderr, name, r)
	}
	loc := env.rules.Location()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "request\t%d\n", r.ID)
	fmt.Fprintf(tw, "received\t%s by %s\n", r.ReceivedOn.Format(time.DateOnly), r.Channel)
	fmt.Fprintf(tw, "requester\t%s\n", r.Requester)
	fmt.Fprintf(tw, "purpose\t%s\n", r.Purpose)
	fmt.Fprintf(tw, "subject\t%s\n", r.Subject)
	fmt.Fprintf(tw, "recordings\t%v\n", r.Recordings)
	fmt.Fprintf(tw, "registered\t%s by %s\n", r.RegisteredAt.In(loc).Format("2006-01-02 15:04"), r.RegisteredBy)
	fmt.Fprintf(tw, "status\t%s\n", r.Status)
	if r.DecidedAt != nil {
		fmt.Fprintf(tw, "decided\t%s by %s with %s (Greffe): %s\n", r.DecidedAt.In(loc).Format("2006-01-02 15:04"), r.DecidedBy, r.GreffeReviewer, r.DecisionNote)
	}
	if r.ClosedAt != nil {
		fmt.Fprintf(tw, "closed\t%s by %s: %s\n", r.ClosedAt.In(loc).Format("2006-01-02 15:04"), r.ClosedBy, r.CloseNote)
	}
	if ops, err := env.register.Opinions(ctx, id); err == nil {
		for _, o := range ops {
			verdict := "refuse"
			if o.Grant {
				verdict = "grant"
			}
			fmt.Fprintf(tw, "opinion\t%s, %s by %s (%s): %s\n", o.GivenAt.In(loc).Format("2006-01-02 15:04"), verdict, o.Login, o.Side, o.Note)
		}
	}
	if r.Status == register.RequestReceived && step == "decide" {
		fmt.Fprintln(tw, "waiting\tfor the Greffe's opinion (a Greffe reviewer gives it in the console); decided when both agree")
	}
	tw.Flush()
	return 0
}

// cmdAccess runs `recpolicy access log`: who accessed what, when, why,
// and what was refused (administrators only; reading it is logged too).
func accessLog(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy access log"
	fs, cfgFile := commandFlags(name, stderr)
	login := fs.String("login", "", "only this login's accesses")
	since := fs.String("since", "", "from this date or time")
	until := fs.String("until", "", "up to this date (inclusive) or time (exclusive)")
	limit := fs.Int("limit", 1000, "at most this many entries, newest first (0: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	if rc := parseFlagsOnly(fs, args, stderr, name); rc != 0 {
		return rc
	}
	if *limit < 0 {
		return exitCode(stderr, name, badUsage("--limit %d is negative: give 0 for all entries", *limit))
	}
	env, err := retentionEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	loc := env.rules.Location()
	f := register.AccessLogFilter{Login: strings.TrimSpace(*login), Limit: *limit}
	for _, w := range []struct {
		flag, v string
		t       *time.Time
		end     bool
	}{{"--since", *since, &f.Since, false}, {"--until", *until, &f.Until, true}} {
		if w.v == "" {
			continue
		}
		t, dateOnly, ok := parseWhen(w.v, loc)
		if !ok {
			return exitCode(stderr, name, badUsage("%s %q is not a date or time: use 2026-11-28 or 2026-11-28T05:00", w.flag, w.v))
		}
		if dateOnly && w.end {
			t = t.AddDate(0, 0, 1)
		}
		*w.t = t
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	entries, err := env.register.AccessLog(ctx, f)
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if *asJSON {
		return writeJSON(stdout, stderr, name, entries)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAT\tLOGIN\tROLE\tACTION\tOBJECT\tREQUEST\tPURPOSE\tOUTCOME")
	for _, e := range entries {
		req := "-"
		if e.RequestID != nil {
			req = strconv.FormatInt(*e.RequestID, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.In(loc).Format("2006-01-02 15:04:05"), e.Login, e.Role,
			e.Action, dash(e.Object), req, dash(e.Purpose), e.Outcome)
	}
	tw.Flush()
	return 0
}

// accessVerify runs `recpolicy access verify`: walks the access log's hash
// chain; exit 0 only when no row was altered, removed or slipped in.
func accessVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy access verify"
	fs, cfgFile := commandFlags(name, stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if rc := parseFlagsOnly(fs, args, stderr, name); rc != 0 {
		return rc
	}
	env, err := retentionEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	rep, err := env.register.VerifyAccessLog(ctx)
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if *asJSON {
		if rc := writeJSON(stdout, stderr, name, rep); rc != 0 {
			return rc
		}
	} else {
		fmt.Fprintf(stdout, "access log: %d rows chained, head %d %s\n", rep.Rows, rep.HeadSeq, rep.HeadHash)
		if rep.Unsealed > 0 {
			fmt.Fprintf(stdout, "%d rows written before the chain began (schema version 5): not provable\n", rep.Unsealed)
		}
		for _, b := range rep.Breaks {
			fmt.Fprintf(stdout, "BROKEN at row %d (chain %d): %s\n", b.ID, b.Seq, b.Reason)
		}
	}
	if !rep.OK() {
		fmt.Fprintf(stderr, "%s: %v: %d places (compare with a backup of the database and the heads printed in the daemon's log)\n", name, register.ErrChainBroken, len(rep.Breaks))
		return 1
	}
	if !*asJSON {
		fmt.Fprintln(stdout, "OK: no row altered, removed or added")
	}
	return 0
}
