package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/archive/retention"
	"github.com/villedemercier/recpolicy/internal/access"
	"github.com/villedemercier/recpolicy/internal/redact"
	"github.com/villedemercier/recpolicy/rules"
)

// Retention commands:
//
//	recpolicy hold add --config F (--recording ID|PATH | --linkedid X | --extension N --since T --until T)
//	                   --case REF --reason TEXT --class CLASS --by NAME [--json]
//	recpolicy hold release ID --config F --by NAME --reason TEXT [--dry-run]
//	recpolicy hold list --config F [--all] [--json]
//	recpolicy export --training ID|PATH --config F --by NAME [--dir DIR] [--dry-run] [--json]
//	recpolicy export list --config F [--json]
//	recpolicy retention purge --config F [--dry-run] [--max-share 0.2] [--max-per-run N] [--accept-gap] [--training-dir DIR] [--by NAME] [--json]
//	recpolicy retention verify --config F [--training-dir DIR] [--json]   (exit 1 when a file is wrong)
//	recpolicy retention destroy (--recording ID|PATH | --training ID) --config F --reason TEXT --by NAME [--early REF] [--dry-run]
//	recpolicy retention log --config F [--since T] [--until T] [--kind K] [--limit N] [--json]
//	recpolicy recordings destroy ID|PATH --config F --reason TEXT --by NAME [--early REF] [--dry-run]

// parseInterleaved parses flags that may come before or after the
// positional arguments, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseFlagsOnly parses the flags of a command that takes no argument; it
// returns 0 when the command goes on, else its exit status (reported).
func parseFlagsOnly(fs *flag.FlagSet, args []string, stderr io.Writer, name string) int {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 0 {
		return exitCode(stderr, name, badUsage("unexpected argument %q: %s takes only flags", pos[0], strings.TrimPrefix(name, "recpolicy ")))
	}
	return 0
}

// adminList runs an administrators' listing that takes only flags: those
// define adds, plus --config and --json. It opens the archive (access
// logged), fetches the rows and prints them as JSON or with table, under
// its header.
func adminList[T any](ctx context.Context, name string, args []string, stdout, stderr io.Writer, define func(fs *flag.FlagSet),
	fetch func(ctx context.Context, env *archiveEnv) ([]T, error), header string, row func(env *archiveEnv, v T) string) int {
	fs, cfgFile := commandFlags(name, stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if define != nil {
		define(fs)
	}
	if rc := parseFlagsOnly(fs, args, stderr, name); rc != 0 {
		return rc
	}
	env, err := retentionEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rows, err := fetch(ctx, env)
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if *asJSON {
		return writeJSON(stdout, stderr, name, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, v := range rows {
		fmt.Fprintln(tw, row(env, v))
	}
	tw.Flush()
	return 0
}

// retentionEnv opens the config, the rules and the database, for a
// command only administrators may run (action names it in the access log).
func retentionEnv(ctx context.Context, configFile, action string) (*archiveEnv, error) {
	return authorizedEnv(ctx, configFile, func(ctx context.Context, env *archiveEnv) error {
		return env.authorize(ctx, action, "", true)
	})
}

// authorizedEnv opens the config, the rules and the database, then lets
// authorize decide (within 30 s) whether the command may run; a refused
// command leaves nothing open.
func authorizedEnv(ctx context.Context, configFile string, authorize func(context.Context, *archiveEnv) error) (*archiveEnv, error) {
	if configFile == "" {
		return nil, badUsage("--config is required: %s", configHint)
	}
	env, err := openArchiveEnv(configFile, true)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := authorize(ctx, env); err != nil {
		env.store.Close()
		return nil, err
	}
	return env, nil
}

// trainingDir is the --dir/--training-dir flag, or the training area
// beside the archive (<parent of archive.dir>/training).
func trainingDir(flagValue string, env *archiveEnv) (string, error) {
	if flagValue != "" {
		if !filepath.IsAbs(flagValue) {
			abs, err := filepath.Abs(flagValue)
			if err != nil {
				return "", badUsage("--dir %q: %v", flagValue, err)
			}
			flagValue = abs
		}
		return filepath.Clean(flagValue), nil
	}
	if d := env.cfg.TrainingDir(); d != "" {
		return d, nil
	}
	return "", badUsage("no training directory: give --dir DIR (archive.training_dir and archive.dir are not set either)")
}

func classes(r *rules.Rules) retention.Classes { return retention.Classes(r.Retention()) }

// loginName is who runs the command, for the destruction log when --by is
// not given.
func loginName() string { return access.Current().Login }

func needText(flagName, v, example string) error {
	if strings.TrimSpace(v) == "" {
		return badUsage("%s is required: e.g. %s %s", flagName, flagName, example)
	}
	return nil
}

func dbHint(err error, cfg string) error {
	var pe *retention.RefusedError
	if errors.Is(err, archive.ErrNotFound) || errors.Is(err, retention.ErrHeld) || errors.Is(err, retention.ErrRetentionNotOver) ||
		errors.Is(err, archive.ErrIntegrity) || errors.As(err, &pe) || errors.Is(err, retention.ErrAlreadyReleased) ||
		errors.Is(err, archive.ErrOutsideArea) || errors.Is(err, retention.ErrUnknownClass) ||
		errors.Is(err, access.ErrAccessDenied) || errors.Is(err, register.ErrRequestState) || errors.Is(err, register.ErrBadRequest) {
		return err
	}
	return fmt.Errorf("%w (is PostgreSQL up, and the schema migrated? recpolicy migrate --config %s)", err, cfg)
}

func holdAdd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy hold add"
	fs, cfgFile := commandFlags(name, stderr)
	recording := fs.String("recording", "", "the recording's id or path")
	linkedid := fs.String("linkedid", "", "a call's linkedid: all its recordings and call records")
	extension := fs.String("extension", "", "an extension: its recordings and call records from --since to --until")
	since := fs.String("since", "", "start of the range, in the city's time zone (2026-11-28, 2026-11-28T05:00 or RFC 3339)")
	until := fs.String("until", "", "end of the range (a date is inclusive)")
	caseRef := fs.String("case", "", "case reference of the complaint or litigation (required)")
	reason := fs.String("reason", "", "why the hold is placed (required)")
	class := fs.String("class", "", "retention class from the rules file kept after release, e.g. complaint (required)")
	by := fs.String("by", "", "who places the hold (required)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 0 {
		return exitCode(stderr, name, badUsage("unexpected argument %q: name the target with --recording, --linkedid or --extension", pos[0]))
	}
	n := 0
	for _, v := range []string{*recording, *linkedid, *extension} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return exitCode(stderr, name, badUsage("name exactly one target: --recording ID|PATH, --linkedid ID, or --extension N with --since and --until"))
	}
	if *extension != "" && (*since == "" || *until == "") {
		return exitCode(stderr, name, badUsage("--extension needs --since and --until: e.g. --since 2026-11-01 --until 2026-11-30"))
	}
	if *extension == "" && (*since != "" || *until != "") {
		return exitCode(stderr, name, badUsage("--since and --until go with --extension only"))
	}
	for _, f := range []struct{ flag, v, ex string }{{"--case", *caseRef, "PL-2026-014"}, {"--reason", *reason, `"plainte du 2026-11-28"`},
		{"--class", *class, "complaint"}, {"--by", *by, `"Lise Tremblay"`}} {
		if err := needText(f.flag, f.v, f.ex); err != nil {
			return exitCode(stderr, name, err)
		}
	}
	env, err := retentionEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	cl := classes(env.rules)
	if _, ok := cl[*class]; !ok {
		return exitCode(stderr, name, badUsage("--class %q is not in %s: use one of %s", *class, env.rules.Source(), strings.Join(cl.Names(), ", ")))
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req := retention.HoldRequest{LinkedID: *linkedid, Case: *caseRef, Reason: *reason, Class: *class, Actor: retention.Actor{Name: *by}}
	loc := env.rules.Location()
	switch {
	case *recording != "":
		r, err := env.query.FindRecording(ctx, *recording)
		if err != nil {
			return exitCode(stderr, name, dbHint(err, *cfgFile))
		}
		req.RecordingID = r.ID
	case *extension != "":
		if n, flag := archive.ClassifyNumber(*extension); flag != archive.NumberOK || n != *extension {
			return exitCode(stderr, name, badUsage("--extension %q is not an extension number: give digits, e.g. --extension 235", *extension))
		}
		req.Extension, req.Endpoint = *extension, *extension
		if e, ok := env.rules.Extension(*extension); ok {
			req.Endpoint = e.Endpoint
		}
		s, _, ok := parseWhen(*since, loc)
		if !ok {
			return exitCode(stderr, name, badUsage("--since %q is not a date or time: use 2026-11-28, 2026-11-28T05:00 or RFC 3339", *since))
		}
		u, dateOnly, ok := parseWhen(*until, loc)
		if !ok {
			return exitCode(stderr, name, badUsage("--until %q is not a date or time: use 2026-11-28, 2026-11-28T05:00 or RFC 3339", *until))
		}
		if dateOnly {
			u = u.AddDate(0, 0, 1)
		}
		if !s.Before(u) {
			return exitCode(stderr, name, badUsage("--since %s is not before --until %s: swap them or widen the range", *since, *until))
		}
		req.Since, req.Until = s, u
	}
	h, err := env.retention.AddHold(ctx, req, cl)
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if *asJSON {
		return writeJSON(stdout, stderr, name, h)
	}
	fmt.Fprintf(stdout, "hold %d placed on %s (case %s, class %s): covers %d recordings and %d call records now\n",
		h.ID, h.Target(), h.Case, h.Class, h.Recordings, h.Calls)
	return 0
}

func holdRelease(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy hold release"
	fs, cfgFile := commandFlags(name, stderr)
	reason := fs.String("reason", "", "why the hold ends (required)")
	by := fs.String("by", "", "who releases it (required)")
	dryRun := fs.Bool("dry-run", false, "show the hold and what follows, change nothing")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		return exitCode(stderr, name, badUsage("name one hold by its id: recpolicy hold release 12 --config FILE --by NAME --reason TEXT"))
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return exitCode(stderr, name, badUsage("hold id %q is not a number: recpolicy hold list shows the ids", pos[0]))
	}
	for _, f := range []struct{ flag, v, ex string }{{"--reason", *reason, `"plainte réglée"`}, {"--by", *by, `"Lise Tremblay"`}} {
		if err := needText(f.flag, f.v, f.ex); err != nil {
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
	h, err := env.retention.ReleaseHold(ctx, id, retention.Actor{Name: *by}, *reason, *dryRun)
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	days, _ := env.rules.RetentionDays(h.Class)
	verb := "released"
	if *dryRun {
		verb = "would be released (dry run)"
	}
	fmt.Fprintf(stdout, "hold %d on %s %s; what it covers is kept %d more days (class %s), then follows its own retention\n",
		h.ID, h.Target(), verb, days, h.Class)
	return 0
}

func holdList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var all *bool
	return adminList(ctx, "recpolicy hold list", args, stdout, stderr,
		func(fs *flag.FlagSet) { all = fs.Bool("all", false, "include released holds") },
		func(ctx context.Context, env *archiveEnv) ([]retention.Hold, error) {
			return env.retention.ListHolds(ctx, *all)
		},
		"ID\tCASE\tCLASS\tTARGET\tRECORDINGS\tCALLS\tPLACED\tBY\tRELEASED",
		func(env *archiveEnv, h retention.Hold) string {
			loc := env.rules.Location()
			rel := "-"
			if h.ReleasedAt != nil {
				rel = h.ReleasedAt.In(loc).Format("2006-01-02 15:04") + " by " + h.ReleasedBy
			}
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s", h.ID, h.Case, h.Class, h.Target(), h.Recordings, h.Calls,
				h.CreatedAt.In(loc).Format("2006-01-02 15:04"), h.CreatedBy, rel)
		})
}

// cmdExport runs `recpolicy export --training REC` and `recpolicy export list`.
func exportTraining(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy export"
	fs, cfgFile := commandFlags(name, stderr)
	training := fs.Bool("training", false, "write a de-identified training copy (the only export there is)")
	dir := fs.String("dir", "", "training area (default: training/ beside archive.dir)")
	by := fs.String("by", "", "who exports (required)")
	dryRun := fs.Bool("dry-run", false, "check and show the copy's name, write nothing")
	asJSON := fs.Bool("json", false, "print JSON")
	var masks maskList
	fs.Var(&masks, "mask", "an interval to mask, START-END:citizen or START-END:both, in seconds (repeat)")
	fill := fs.String("fill", "tone", "what replaces masked audio: tone or silence")
	dropCitizen := fs.Bool("drop-citizen", false, "leave the citizen's channel out of the copy (two-channel recordings)")
	heardAll := fs.Bool("heard-all", false, "confirm you heard every second of the call (required with --mask or --drop-citizen)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if *fill != "tone" && *fill != "silence" {
		return exitCode(stderr, name, badUsage("--fill %q: tone or silence", *fill))
	}
	redacting := len(masks) > 0 || *dropCitizen
	if redacting && !*heardAll {
		return exitCode(stderr, name, badUsage("--heard-all is required with --mask or --drop-citizen: a redacted copy is released only once every second of the call was heard"))
	}
	if !*training {
		return exitCode(stderr, name, badUsage("--training is required: only de-identified training copies are exported (recpolicy export --training ID --config FILE --by NAME)"))
	}
	if len(pos) != 1 {
		return exitCode(stderr, name, badUsage("name one recording by its id or path: recpolicy export --training 42 --config FILE --by NAME"))
	}
	if err := needText("--by", *by, `"Lise Tremblay"`); err != nil {
		return exitCode(stderr, name, err)
	}
	env, err := retentionEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	days, err := retention.TrainingKeep(classes(env.rules))
	if err != nil {
		return exitCode(stderr, name, fmt.Errorf("the rules file %s: %w", env.rules.Source(), err))
	}
	tdir, err := trainingDir(*dir, env)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	// The guard decides (a call that involved a confidential extension on
	// any leg is never used for training) and logs the training purpose.
	src, err := env.guard.TrainingSource(ctx, name, pos[0], map[string]any{"dry_run": *dryRun, "redacted": redacting})
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	treq := retention.TrainingRequest{Source: src, ArchiveDir: env.cfg.Archive.Dir, Dir: tdir, Actor: retention.Actor{Name: *by}, DryRun: *dryRun, KeepDays: days}
	var tc retention.TrainingCopy
	if redacting {
		req := retention.RedactedRequest{TrainingRequest: treq, Masks: masks, HeardAll: *heardAll}
		if *fill == "silence" {
			req.Fill = redact.Silence
		}
		if *dropCitizen {
			citizen := 1
			req.Drop = &citizen
		}
		rc, err := env.retention.ExportRedacted(ctx, req)
		if err != nil {
			return exitCode(stderr, name, dbHint(err, *cfgFile))
		}
		if *asJSON {
			return writeJSON(stdout, stderr, name, rc)
		}
		if *dryRun {
			fmt.Fprintf(stdout, "would write %s with %d masked intervals (dry run; recording %d checked)\n", rc.Path, len(rc.Masks), src.ID)
			return 0
		}
		fmt.Fprintf(stdout, "redacted training copy %d: %s (%s, %d bytes), %d intervals masked; kept %d days; the redaction is logged for the administrators\n",
			rc.ID, rc.Path, formatSeconds(rc.Duration), rc.Size, len(rc.Masks), days)
		return 0
	}
	tc, err = env.retention.ExportTraining(ctx, treq)
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if *asJSON {
		return writeJSON(stdout, stderr, name, tc)
	}
	if *dryRun {
		fmt.Fprintf(stdout, "would write %s (dry run; recording %d checked)\n", tc.Path, src.ID)
		return 0
	}
	fmt.Fprintf(stdout, "training copy %d: %s (%s, %d bytes); kept %d days. Listen to it first: the audio itself may say names or numbers\n",
		tc.ID, tc.Path, formatSeconds(tc.Duration), tc.Size, days)
	return 0
}

func exportList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return adminList(ctx, "recpolicy export list", args, stdout, stderr, nil,
		func(ctx context.Context, env *archiveEnv) ([]retention.TrainingCopy, error) {
			return env.retention.ListTraining(ctx)
		},
		"ID\tCREATED\tBY\tDURATION\tCLASS\tPATH",
		func(env *archiveEnv, t retention.TrainingCopy) string {
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s", t.ID, t.CreatedAt.In(env.rules.Location()).Format("2006-01-02 15:04"), t.CreatedBy,
				formatSeconds(t.Duration), t.Class, t.Path)
		})
}

// exportRedactions runs `recpolicy export redactions`: the administrators'
// log of redacted training copies.
func exportRedactions(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return adminList(ctx, "recpolicy export redactions", args, stdout, stderr, nil,
		func(ctx context.Context, env *archiveEnv) ([]retention.Redaction, error) {
			return env.retention.ListRedactions(ctx)
		},
		"COPY	NAME	RECORDING	MASKED	FILL	CITIZEN	CONFIRMED BY	AT",
		func(env *archiveEnv, r retention.Redaction) string {
			var masks []string
			for _, m := range r.Masks {
				who := "citizen"
				if len(m.Channels) != 1 || m.Channels[0] != 1 {
					who = "both"
				}
				masks = append(masks, fmt.Sprintf("%.2f-%.2f:%s", m.Start, m.End, who))
			}
			name, citizen := r.CopyName, "kept"
			if name == "" {
				name = "(destroyed)"
			}
			if r.DroppedChannel != nil {
				citizen = "dropped"
			}
			return fmt.Sprintf("%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s", r.CopyID, name, r.Source, strings.Join(masks, " "), r.Fill, citizen, r.ConfirmedBy,
				r.ConfirmedAt.In(env.rules.Location()).Format("2006-01-02 15:04"))
		})
}

// cmdRecordingsDestroy runs `recpolicy recordings destroy ID|PATH …`.
func cmdRecordingsDestroy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return retentionDestroy(ctx, "recpolicy recordings destroy", args, true, stdout, stderr)
}

func retentionPurge(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy retention purge"
	fs, cfgFile := commandFlags(name, stderr)
	dryRun := fs.Bool("dry-run", false, "show what would be destroyed, destroy nothing")
	maxShare := fs.Float64("max-share", retention.DefaultMaxShare, "refuse when more than this fraction of the archive is due at once")
	tdirFlag := fs.String("training-dir", "", "training area (default: archive.training_dir, or training/ beside archive.dir)")
	maxPerRun := fs.Int("max-per-run", retention.DefaultMaxPerRun, "destroy at most this many files; the rest waits for the next run")
	acceptGap := fs.Bool("accept-gap", false, "run although the last purge is older than the schedule explains (after a known long stop)")
	by := fs.String("by", "", "who runs the purge, for the destruction log (default: your login)")
	asJSON := fs.Bool("json", false, "print JSON")
	if rc := parseFlagsOnly(fs, args, stderr, name); rc != 0 {
		return rc
	}
	if *maxShare <= 0 || *maxShare > 1 {
		return exitCode(stderr, name, badUsage("--max-share %g is out of range: give a fraction in (0, 1], e.g. --max-share 0.2", *maxShare))
	}
	if *maxPerRun <= 0 {
		return exitCode(stderr, name, badUsage("--max-per-run %d: give a positive number of files, e.g. --max-per-run %d", *maxPerRun, retention.DefaultMaxPerRun))
	}
	env, err := retentionEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	tdir, err := trainingDir(*tdirFlag, env)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	actor := *by
	if strings.TrimSpace(actor) == "" {
		actor = loginName()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bar := newProgress(stderr, "purge")
	rep, err := env.retention.Purge(ctx, retention.PurgeOptions{Classes: classes(env.rules), ArchiveDir: env.cfg.Archive.Dir,
		TrainingDir: tdir, MaxShare: *maxShare, DryRun: *dryRun, Actor: retention.Actor{Name: actor}, Progress: bar.update,
		MaxPerRun: *maxPerRun, Period: env.rules.Period(env.rules.Schedules().Retention), AcceptGap: *acceptGap})
	bar.done()
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if *asJSON {
		if code := writeJSON(stdout, stderr, name, rep); code != 0 {
			return code
		}
	} else {
		printPurge(stdout, rep, env.rules.Location())
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(stderr, "%s: %d files kept past their retention because something is wrong with them; see above\n", name, len(rep.Problems))
		return 1
	}
	return 0
}

func printPurge(w io.Writer, rep *retention.PurgeReport, loc *time.Location) {
	verb := "destroyed"
	if rep.DryRun {
		verb = "would destroy (dry run)"
	}
	files := append(append([]retention.Destroyed{}, rep.Recordings...), rep.Training...)
	if len(files) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tID\tCLASS\tENDED\tEXPIRED\tPATH")
		for _, d := range files {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", d.Kind, d.ID, d.Class, d.Ended.In(loc).Format("2006-01-02 15:04"),
				d.Expired.In(loc).Format("2006-01-02"), d.Path)
		}
		tw.Flush()
	}
	printProblems(w, rep.Problems)
	fmt.Fprintf(w, "%s: %d recordings, %d training copies, %d call records; %d recordings past retention kept by a hold",
		verb, len(rep.Recordings), len(rep.Training), rep.Calls, rep.Held)
	if rep.Resumed > 0 {
		fmt.Fprintf(w, "; %d destructions of an earlier run completed", rep.Resumed)
	}
	if rep.Capped > 0 {
		fmt.Fprintf(w, "; %d more due, left for the next run (--max-per-run)", rep.Capped)
	}
	fmt.Fprintln(w)
}

func printProblems(w io.Writer, ps []retention.Problem) {
	if len(ps) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROBLEM\tAREA\tID\tPATH\tDETAIL")
	for _, p := range ps {
		id := "-"
		if p.ID != 0 {
			id = strconv.FormatInt(p.ID, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Kind, p.Area, id, p.Path, dash(p.Detail))
	}
	tw.Flush()
}

func retentionVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy retention verify"
	fs, cfgFile := commandFlags(name, stderr)
	tdirFlag := fs.String("training-dir", "", "training area (default: archive.training_dir, or training/ beside archive.dir)")
	asJSON := fs.Bool("json", false, "print JSON")
	if rc := parseFlagsOnly(fs, args, stderr, name); rc != 0 {
		return rc
	}
	env, err := retentionEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	tdir, err := trainingDir(*tdirFlag, env)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	bar := newProgress(stderr, "verify")
	rep, err := env.retention.Verify(ctx, retention.VerifyOptions{ArchiveDir: env.cfg.Archive.Dir, TrainingDir: tdir, Progress: bar.update})
	bar.done()
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if err := env.retention.LogIntegrityRun(ctx, retention.IntegrityRun{Report: rep, Actor: env.login()}); err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if *asJSON {
		if code := writeJSON(stdout, stderr, name, rep); code != 0 {
			return code
		}
	} else {
		printProblems(stdout, rep.Problems)
		fmt.Fprintf(stdout, "%d files checked: %d missing, %d altered, %d unreadable, %d outside their area, %d unknown\n", rep.Checked,
			rep.Count(archive.ProblemMissing), rep.Count(archive.ProblemAltered), rep.Count(archive.ProblemUnreadable),
			rep.Count(archive.ProblemOutside), rep.Count(archive.ProblemUnknown))
	}
	if !rep.OK() {
		fmt.Fprintf(stderr, "%s: %d problems found\n", name, len(rep.Problems))
		return 1
	}
	return 0
}

// retentionDestroy destroys one recording (or training copy) by hand;
// positional names the recording as a positional argument instead of
// --recording.
func retentionDestroy(ctx context.Context, name string, args []string, positional bool, stdout, stderr io.Writer) int {
	fs, cfgFile := commandFlags(name, stderr)
	recording := fs.String("recording", "", "the recording's id or path")
	training := fs.Int64("training", 0, "a training copy's id (recpolicy export list)")
	reason := fs.String("reason", "", "why it is destroyed (required)")
	by := fs.String("by", "", "who destroys it (required)")
	early := fs.String("early", "", "reference of the exceptional instruction (mayor or director general) allowing destruction before the retention ends")
	tdirFlag := fs.String("training-dir", "", "training area (default: archive.training_dir, or training/ beside archive.dir)")
	dryRun := fs.Bool("dry-run", false, "check and show, destroy nothing")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if positional && len(pos) == 1 && *recording == "" {
		*recording, pos = pos[0], nil
	}
	if len(pos) > 0 {
		return exitCode(stderr, name, badUsage("unexpected argument %q: name the recording once (its id or path)", pos[0]))
	}
	if (*recording == "") == (*training == 0) {
		if positional {
			return exitCode(stderr, name, badUsage("name one recording by its id or path: %s 42 --config FILE --reason TEXT --by NAME", name))
		}
		return exitCode(stderr, name, badUsage("name one target: --recording ID|PATH or --training ID"))
	}
	for _, f := range []struct{ flag, v, ex string }{{"--reason", *reason, `"demande d'accès traitée"`}, {"--by", *by, `"Lise Tremblay"`}} {
		if err := needText(f.flag, f.v, f.ex); err != nil {
			return exitCode(stderr, name, err)
		}
	}
	env, err := retentionEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req := retention.DestroyRequest{Reason: *reason, Actor: retention.Actor{Name: *by}, Classes: classes(env.rules),
		Early: *early, DryRun: *dryRun}
	if *training != 0 {
		req.Kind, req.ID = retention.KindTraining, *training
		if req.Area, err = trainingDir(*tdirFlag, env); err != nil {
			return exitCode(stderr, name, err)
		}
	} else {
		r, err := env.query.FindRecording(ctx, *recording)
		if err != nil {
			return exitCode(stderr, name, dbHint(err, *cfgFile))
		}
		req.Kind, req.ID, req.Area = retention.KindRecording, r.ID, env.cfg.Archive.Dir
	}
	d, err := env.retention.Destroy(ctx, req)
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if d.DryRun {
		fmt.Fprintf(stdout, "would destroy %s %d: %s (dry run; checksum verified)\n", d.Kind, d.ID, d.Path)
		return 0
	}
	note := ""
	if d.Note != "" {
		note = " (" + d.Note + ")"
	}
	fmt.Fprintf(stdout, "destroyed %s %d: %s%s; destruction log row %d\n", d.Kind, d.ID, d.Path, note, d.LogID)
	return 0
}

func retentionLog(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy retention log"
	fs, cfgFile := commandFlags(name, stderr)
	since := fs.String("since", "", "from this date or time, in the city's time zone")
	until := fs.String("until", "", "up to this date (inclusive) or time (exclusive)")
	kind := fs.String("kind", "", "recording, training or call")
	limit := fs.Int("limit", 1000, "at most this many rows, newest first (0: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	if rc := parseFlagsOnly(fs, args, stderr, name); rc != 0 {
		return rc
	}
	switch *kind {
	case "", retention.KindRecording, retention.KindTraining, retention.KindCall:
	default:
		return exitCode(stderr, name, badUsage("--kind %q is unknown: use recording, training or call", *kind))
	}
	if *limit < 0 {
		return exitCode(stderr, name, badUsage("--limit %d is negative: give 0 for all rows, or a positive count", *limit))
	}
	env, err := retentionEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	loc := env.rules.Location()
	f := retention.DestructionFilter{Kind: *kind, Limit: *limit}
	if *since != "" {
		t, _, ok := parseWhen(*since, loc)
		if !ok {
			return exitCode(stderr, name, badUsage("--since %q is not a date or time: use 2026-11-28 or 2026-11-28T05:00", *since))
		}
		f.Since = t
	}
	if *until != "" {
		t, dateOnly, ok := parseWhen(*until, loc)
		if !ok {
			return exitCode(stderr, name, badUsage("--until %q is not a date or time: use 2026-11-28 or 2026-11-28T05:00", *until))
		}
		if dateOnly {
			t = t.AddDate(0, 0, 1)
		}
		f.Until = t
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rows, err := env.retention.ListDestructions(ctx, f)
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if *asJSON {
		if rows == nil {
			rows = []retention.Destruction{}
		}
		return writeJSON(stdout, stderr, name, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tWHEN\tKIND\tOBJECT\tSTATE\tBY\tREASON\tWHAT")
	for _, d := range rows {
		when := d.RequestedAt
		if d.DestroyedAt != nil {
			when = *d.DestroyedAt
		}
		what := d.Path
		if what == "" {
			what = string(d.Detail)
		}
		by := d.Actor
		if d.ActorKind == "job" {
			by = "job:" + by
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", d.ID, when.In(loc).Format("2006-01-02 15:04:05"), d.Kind, d.ObjectID,
			d.State, by, d.Reason, what)
	}
	tw.Flush()
	return 0
}

// progress draws a one-line progress bar with \r on a terminal; elsewhere
// it draws nothing.
type progress struct {
	w     io.Writer
	label string
	tty   bool
	last  time.Time
	shown bool
}

func newProgress(w io.Writer, label string) *progress {
	p := &progress{w: w, label: label}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(done, total int) {
	if !p.tty || total == 0 {
		return
	}
	if now := time.Now(); done < total && now.Sub(p.last) < 100*time.Millisecond {
		return
	} else {
		p.last = now
	}
	const width = 30
	fill := width * done / total
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d %3d%%", p.label, strings.Repeat("#", fill), strings.Repeat(" ", width-fill),
		done, total, 100*done/total)
	p.shown = true
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}

// maskList collects --mask flags.
type maskList []redact.Mask

func (l *maskList) String() string { return fmt.Sprint(len(*l)) }

func (l *maskList) Set(s string) error {
	m, err := retention.ParseMask(s)
	if err != nil {
		return err
	}
	*l = append(*l, m)
	return nil
}
