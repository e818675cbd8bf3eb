package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/ingest"
	"github.com/villedemercier/recpolicy/archive/query"
	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/archive/retention"
	"github.com/villedemercier/recpolicy/internal/access"
	"github.com/villedemercier/recpolicy/internal/config"
	"github.com/villedemercier/recpolicy/rules"
)

// usageError is a bad command line: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func badUsage(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitCode reports err on stderr under the command's name and returns the
// exit status: 2 for a bad command line, 1 otherwise.
func exitCode(stderr io.Writer, cmd string, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// archiveEnv is what the archive commands load from the daemon config.
type archiveEnv struct {
	cfg       *config.Config
	store     *archive.Store   // the pool and the schema
	query     *query.Store     // recordings found by id or path
	register  *register.Store  // the register of requests and the access log
	retention *retention.Store // holds, purges, destructions, training copies
	ingest    *ingest.Store    // quarantined records replayed
	rules     *rules.Rules
	guard     *access.Guard // set by authorize
}

func openArchiveEnv(configFile string, needRules bool) (*archiveEnv, error) {
	cfg, err := loadConfig(configFile)
	if err != nil {
		return nil, err
	}
	dsn, err := cfg.Archive.DSN.Resolve()
	if err != nil {
		return nil, fmt.Errorf("archive.dsn: %w", err)
	}
	st, err := archive.Connect(dsn)
	if err != nil {
		return nil, err
	}
	env := &archiveEnv{cfg: cfg, store: st, query: query.NewStore(st), register: register.NewStore(st), retention: retention.NewStore(st), ingest: ingest.NewStore(st)}
	if needRules {
		if env.rules, err = loadRules(cfg.RulesFile); err != nil {
			st.Close()
			return nil, fmt.Errorf("load rules %s (rules_file of %s): %w", cfg.RulesFile, configFile, err)
		}
	}
	return env, nil
}

const configHint = "give the daemon configuration file, e.g. --config /etc/recpolicy/recpolicy.yaml"

// cmdMigrate runs `recpolicy migrate --config FILE`.
func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy migrate"
	fs, cfgFile := commandFlags(name, stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cfgFile == "" {
		return exitCode(stderr, name, badUsage("--config is required: %s", configHint))
	}
	if fs.NArg() > 0 {
		return exitCode(stderr, name, badUsage("unexpected argument %q: migrate takes only --config", fs.Arg(0)))
	}
	env, err := openArchiveEnv(*cfgFile, false)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	owner, which := env.store, "archive.dsn"
	if env.cfg.Archive.MigrateDSN.Set() {
		// The schema's owner migrates; the runtime role cannot.
		dsn, err := env.cfg.Archive.MigrateDSN.Resolve()
		if err != nil {
			return exitCode(stderr, name, fmt.Errorf("archive.migrate_dsn: %w", err))
		}
		if owner, err = archive.Connect(dsn); err != nil {
			return exitCode(stderr, name, err)
		}
		defer owner.Close()
		which = "archive.migrate_dsn"
	}
	applied, err := owner.Migrate(ctx)
	if err != nil {
		return exitCode(stderr, name, fmt.Errorf("%w (is PostgreSQL up, and %s right, naming the schema's owner?)", err, which))
	}
	v, err := env.store.SchemaVersion(ctx)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "schema up to date at version %d\n", v)
	} else {
		fmt.Fprintf(stdout, "applied migrations %v; schema at version %d\n", applied, v)
	}
	return 0
}

// listFlags are the filters shared by `recordings list` and `calls list`.
type listFlags struct {
	config, extension, department, direction, since, until, number string
	json                                                           bool
	limit                                                          int
}

func (l *listFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.config, "config", "", "daemon configuration file (required)")
	fs.StringVar(&l.extension, "extension", "", "extension numbers, comma-separated (e.g. 235,252)")
	fs.StringVar(&l.department, "department", "", "department id of the rules file (e.g. greffe)")
	fs.StringVar(&l.direction, "direction", "", "inbound, outbound or other")
	fs.StringVar(&l.since, "since", "", "from this date or time, in the city's time zone (2026-11-28, 2026-11-28T05:00 or RFC 3339)")
	fs.StringVar(&l.until, "until", "", "up to this date (inclusive) or time (exclusive), same forms as --since")
	fs.StringVar(&l.number, "number", "", "calling or called number")
	fs.BoolVar(&l.json, "json", false, "print JSON instead of a table")
	fs.IntVar(&l.limit, "limit", 1000, "at most this many rows, newest first (0: all)")
}

// listQuery is the parsed form of listFlags.
type listQuery struct {
	since, until time.Time
	extensions   []string // numbers
	endpoints    []string
	byExtension  bool
	direction    string
	number       string
	loc          *time.Location
	trunks       []string
}

// access is the query as the guard takes it.
func (q listQuery) access(limit int) access.Query {
	return access.Query{Since: q.since, Until: q.until, Extensions: q.extensions, Endpoints: q.endpoints,
		ByExtension: q.byExtension, Direction: q.direction, Trunks: q.trunks, Number: q.number, Limit: limit}
}

// listHint adds what to check to a list's database error; a refusal or a
// log failure already says it.
func listHint(err error, cfg string) error {
	if errors.Is(err, access.ErrAccessDenied) || errors.Is(err, access.ErrNotLogged) {
		return err
	}
	return fmt.Errorf("%w (is PostgreSQL up, and the schema migrated? recpolicy migrate --config %s)", err, cfg)
}

// parse checks the flags, loads the config and the rules, and opens the
// database.
func (l *listFlags) parse(fs *flag.FlagSet) (*archiveEnv, listQuery, error) {
	var q listQuery
	if l.config == "" {
		return nil, q, badUsage("--config is required: %s", configHint)
	}
	if fs.NArg() > 0 {
		return nil, q, badUsage("unexpected argument %q: filters are flags, e.g. --extension %s", fs.Arg(0), fs.Arg(0))
	}
	switch l.direction {
	case "", archive.DirectionInbound, archive.DirectionOutbound, archive.DirectionOther:
	default:
		return nil, q, badUsage("--direction %q is unknown: use inbound, outbound or other", l.direction)
	}
	if l.limit < 0 {
		return nil, q, badUsage("--limit %d is negative: give 0 for all rows, or a positive count", l.limit)
	}
	var exts []string
	if l.extension != "" {
		for _, e := range strings.Split(l.extension, ",") {
			e = strings.TrimSpace(e)
			if n, flag := archive.ClassifyNumber(e); flag != archive.NumberOK || n != e {
				return nil, q, badUsage("--extension %q is not an extension number: give digits, e.g. --extension 235", e)
			}
			exts = append(exts, e)
		}
	}
	if l.number != "" && strings.TrimSpace(l.number) == "" {
		return nil, q, badUsage("--number is blank: give a number, e.g. --number 5145550100, or anonymous")
	}
	for _, v := range []struct{ flag, val string }{{"--since", l.since}, {"--until", l.until}} {
		if v.val != "" {
			if _, _, ok := parseWhen(v.val, time.UTC); !ok {
				return nil, q, badUsage("%s %q is not a date or time: use 2026-11-28, 2026-11-28T05:00 or 2026-11-28T05:00:00-05:00", v.flag, v.val)
			}
		}
	}
	env, err := openArchiveEnv(l.config, true)
	if err != nil {
		return nil, q, err
	}
	r := env.rules
	q.loc, q.trunks, q.direction, q.number = r.Location(), r.Trunks(), l.direction, strings.TrimSpace(l.number)
	if l.since != "" {
		q.since, _, _ = parseWhen(l.since, q.loc)
	}
	if l.until != "" {
		t, dateOnly, _ := parseWhen(l.until, q.loc)
		if dateOnly {
			t = t.AddDate(0, 0, 1) // the whole day
		}
		q.until = t
	}
	if !q.since.IsZero() && !q.until.IsZero() && !q.since.Before(q.until) {
		env.store.Close()
		return nil, q, badUsage("--since %s is not before --until %s: swap them or widen the range", l.since, l.until)
	}
	aq := access.Query{}
	if err := access.Select(&aq, r, exts, l.department); err != nil {
		env.store.Close()
		return nil, q, badUsage("--department %q is not in %s: %v", l.department, r.Source(), err)
	}
	q.byExtension, q.extensions, q.endpoints = aq.ByExtension, aq.Extensions, aq.Endpoints
	return env, q, nil
}

// describe is the filters as the access log keeps them.
func (l *listFlags) describe() string {
	var parts []string
	for _, f := range []struct{ k, v string }{{"extension", l.extension}, {"department", l.department}, {"direction", l.direction},
		{"since", l.since}, {"until", l.until}, {"number", l.number}} {
		if f.v != "" {
			parts = append(parts, "--"+f.k+" "+f.v)
		}
	}
	return strings.Join(parts, " ")
}

// parseWhen reads a date (midnight in loc; dateOnly true), a local date
// and time in loc, or an RFC 3339 time.
func parseWhen(s string, loc *time.Location) (t time.Time, dateOnly, ok bool) {
	s = strings.TrimSpace(s)
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, true, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, false, true
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, false, true
		}
	}
	return time.Time{}, false, false
}

// recordingsList runs `recpolicy recordings list …`.
func recordingsList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy recordings list"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var l listFlags
	l.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	env, q, err := l.parse(fs)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := env.tool(ctx, name); err != nil {
		return exitCode(stderr, name, err)
	}
	recs, err := env.guard.ListRecordings(ctx, name, l.describe(), q.access(l.limit))
	if err != nil {
		return exitCode(stderr, name, listHint(err, l.config))
	}
	if l.json {
		return writeJSON(stdout, stderr, name, recs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTART\tEXTENSION\tDIRECTION\tDURATION\tDEPARTMENTS\tRETENTION\tPATH")
	for _, r := range recs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Start.In(q.loc).Format("2006-01-02 15:04:05"), r.Extension,
			dash(r.Direction), formatSeconds(r.Duration), dash(strings.Join(r.Departments, ",")), r.RetentionClass, r.Path)
	}
	tw.Flush()
	return 0
}

// callsList runs `recpolicy calls list …`.
func callsList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy calls list"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var l listFlags
	l.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	env, q, err := l.parse(fs)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := env.tool(ctx, name); err != nil {
		return exitCode(stderr, name, err)
	}
	calls, err := env.guard.ListCalls(ctx, name, l.describe(), q.access(l.limit))
	if err != nil {
		return exitCode(stderr, name, listHint(err, l.config))
	}
	if l.json {
		return writeJSON(stdout, stderr, name, calls)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "START\tFROM\tTO\tDISPOSITION\tDURATION\tBILLED\tRECORDINGS\tUNIQUEID")
	for _, c := range calls {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%ds\t%ds\t%d\t%s\n", c.Start.In(q.loc).Format("2006-01-02 15:04:05"),
			showNumber(c.Source, c.SourceFlag, c.SourceRaw), showNumber(c.Destination, c.DestinationFlag, c.DestinationRaw),
			c.Disposition, c.Duration, c.BillableSeconds, len(c.Recordings), c.UniqueID)
	}
	tw.Flush()
	return 0
}

func writeJSON(stdout, stderr io.Writer, name string, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return exitCode(stderr, name, err)
	}
	return 0
}

func showNumber(n *string, flag, raw string) string {
	if n != nil {
		return *n
	}
	if raw == "" {
		return "(" + flag + ")"
	}
	return fmt.Sprintf("(%s: %s)", flag, raw)
}

func formatSeconds(s float64) string {
	return (time.Duration(s*10) * time.Second / 10).String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
