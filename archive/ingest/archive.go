package ingest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/villedemercier/recpolicy/archive"
)

// Config says where the archive writes. Zero values of the tuning fields
// take their defaults.
type Config struct {
	DSN string // PostgreSQL address (a secret: never logged)
	// MigrateDSN is the schema owner's address, used only for the
	// migrations; empty: DSN.
	MigrateDSN string
	SpoolDir   string         // local spool directory; created when missing
	Location   *time.Location // the PBX's time zone, for the Cdr event's times; UTC when nil
	Log        zerolog.Logger

	// Migrate, when true, makes Run apply the schema's migrations as soon
	// as the database answers (the daemon sets it).
	Migrate bool
	// BatchSize caps the records written per transaction (default 2000).
	BatchSize int
	// MinBackoff and MaxBackoff bound the wait between attempts while the
	// database is unreachable (defaults 250ms and 30s).
	MinBackoff, MaxBackoff time.Duration
	// Poll is how often Run looks at the spool when nothing woke it
	// (default 5s).
	Poll time.Duration
	// FlushTimeout caps the last replay Run attempts after its context is
	// cancelled (default 3s). What it does not write stays spooled.
	FlushTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 2000
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 250 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(30*time.Second, c.MinBackoff)
	}
	if c.Poll <= 0 {
		c.Poll = 5 * time.Second
	}
	if c.FlushTimeout <= 0 {
		c.FlushTimeout = 3 * time.Second
	}
}

// Archive spools call records and recordings durably and replays them into
// PostgreSQL. Its Add methods are safe for concurrent use and work whether
// or not the database is up, and whether or not Run is running.
type Archive struct {
	cfg   Config
	log   zerolog.Logger
	store *archive.Store
	spool *spool
	quar  *quarantine
	wake  chan struct{}
	stats stats
	loc   atomic.Pointer[time.Location] // Cdr times' zone now (SetLocation)

	running sync.Mutex // one Run at a time

	// afterCommit, when set (tests), runs between a batch's commit and the
	// removal of its spool files; an error aborts like a crash would.
	afterCommit func() error
}

// Open opens the spool (creating its directory) and prepares the database
// connection. It does not need the database to be up.
func Open(ctx context.Context, cfg Config) (*Archive, error) {
	cfg.setDefaults()
	if cfg.SpoolDir == "" {
		return nil, errors.New("open archive: no spool directory; set archive.spool_dir")
	}
	st, err := archive.Connect(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	sp, err := openSpool(cfg.SpoolDir)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("open archive: %w", err)
	}
	a := &Archive{
		cfg:   cfg,
		log:   cfg.Log,
		store: st,
		spool: sp,
		quar:  &quarantine{path: filepath.Join(cfg.SpoolDir, QuarantineFile)},
		wake:  make(chan struct{}, 1),
	}
	if n, err := a.Backlog(); err == nil && n > 0 {
		a.log.Info().Int("records", n).Str("spool", cfg.SpoolDir).Msg("archive spool holds records from before; they will be replayed")
	}
	return a, nil
}

// Store returns the database side of the archive.
func (a *Archive) Store() *archive.Store { return a.store }

// Migrate applies the schema's migrations now.
func (a *Archive) Migrate(ctx context.Context) error {
	_, err := a.store.Migrate(ctx)
	return err
}

// Close closes the database connections. Call it after Run has returned;
// the spool keeps what was not written, and the Add methods still spool.
func (a *Archive) Close() error {
	return a.store.Close()
}

// Prepared holds records checked and ready to be spooled together, in one
// file and one fsync (a group commit). Fill it with the Prepare methods,
// then Write it; a Write that fails leaves it as it was, to be written
// again.
type Prepared struct{ entries []entry }

// Len returns how many records p holds.
func (p *Prepared) Len() int { return len(p.entries) }

// PrepareCDR parses a Cdr event's fields into p. A malformed event is
// logged by its field names (never its values: they hold personal data),
// written with its values to the quarantine file, and reported as a
// *MalformedError; fields this package does not know are kept with the
// record and also quarantined (the record is still archived).
func (a *Archive) PrepareCDR(p *Prepared, fields []Field) error {
	c, unknown, err := ParseCDR(fields, a.location())
	if err != nil {
		a.log.Error().Err(err).Strs("fields", fieldNames(fields)).Str("uniqueid", fieldValue(fields, "UniqueID")).
			Msg("malformed Cdr event; quarantined, not archived (its values are in the quarantine file, never in the log: they hold personal data)")
		if qerr := a.quar.add(QuarantineRecord{Reason: err.Error(), Event: fields}); qerr != nil {
			return fmt.Errorf("spool cdr: %w (and %w)", err, qerr)
		}
		return fmt.Errorf("spool cdr: %w", err)
	}
	if len(unknown) > 0 {
		reason := fmt.Sprintf("unknown fields %v: archived with them in calls.extra", unknown)
		a.log.Warn().Strs("fields", unknown).Str("uniqueid", c.UniqueID).Msg("Cdr event has fields this version does not know; archived, and a copy quarantined")
		if err := a.quar.add(QuarantineRecord{Reason: reason, Event: fields}); err != nil {
			return fmt.Errorf("spool cdr: %w", err)
		}
	}
	a.checkZone(c, fields)
	p.entries = append(p.entries, entry{Kind: kindCDR, CDR: &c})
	return nil
}

// PrepareRulesVersion adds one load of the rules file to p.
func (a *Archive) PrepareRulesVersion(p *Prepared, v archive.RulesVersion) error {
	if err := v.Validate(); err != nil {
		return fmt.Errorf("spool rules version: %w", err)
	}
	p.entries = append(p.entries, entry{Kind: kindRules, Rules: &v})
	return nil
}

// PrepareRecording adds a filed recording's metadata to p. An unusable one
// is quarantined and reported as a *MalformedError.
func (a *Archive) PrepareRecording(p *Prepared, r archive.Recording) error {
	if err := r.Validate(); err != nil {
		a.log.Error().Err(err).Str("path", r.Path).Str("uniqueid", r.UniqueID).Str("extension", r.Extension).Msg("recording metadata unusable; quarantined, not archived")
		if qerr := a.quar.add(QuarantineRecord{Reason: err.Error(), Recording: &r}); qerr != nil {
			return fmt.Errorf("spool recording: %w (and %w)", err, qerr)
		}
		return fmt.Errorf("spool recording: %w", err)
	}
	if r.RetentionClass == "" {
		r.RetentionClass = archive.DefaultRetention
	}
	r.SHA256 = strings.ToLower(r.SHA256)
	p.entries = append(p.entries, entry{Kind: kindRecording, Recording: &r})
	return nil
}

// Write spools what p holds in one file, fsync'd, and empties p. When it
// fails (a full disk), nothing of p was spooled and p is left as it was.
func (a *Archive) Write(p *Prepared) error {
	if len(p.entries) == 0 {
		return nil
	}
	if err := a.spool.append(p.entries); err != nil {
		return fmt.Errorf("spool %d records: %w", len(p.entries), err)
	}
	p.entries = p.entries[:0]
	a.notify()
	return nil
}

// AddCDR spools one Cdr event (see PrepareCDR); it returns once the record
// is on disk.
func (a *Archive) AddCDR(fields []Field) error {
	var p Prepared
	if err := a.PrepareCDR(&p, fields); err != nil {
		return err
	}
	return a.Write(&p)
}

// AddRulesVersion spools one load of the rules file; it returns once it is
// on disk.
func (a *Archive) AddRulesVersion(v archive.RulesVersion) error {
	var p Prepared
	if err := a.PrepareRulesVersion(&p, v); err != nil {
		return err
	}
	return a.Write(&p)
}

// AddRecording spools a filed recording's metadata (see PrepareRecording);
// it returns once it is on disk.
func (a *Archive) AddRecording(r archive.Recording) error {
	var p Prepared
	if err := a.PrepareRecording(&p, r); err != nil {
		return err
	}
	return a.Write(&p)
}

// Backlog returns the number of records spooled and not yet confirmed by
// the database.
func (a *Archive) Backlog() (int, error) {
	files, err := a.spool.pending()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		n += f.count
	}
	return n, nil
}

func (a *Archive) notify() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// checkZone warns when the event's Timestamp (Unix time, when the event
// was sent) is far from its EndTime read in the configured zone: the zone
// is probably not the PBX's.
// SetLocation changes the zone Cdr events' times are read in, for the
// events spooled from now on (a rules reload that changes the time zone,
// when the PBX's zone follows the rules').
func (a *Archive) SetLocation(loc *time.Location) {
	if loc == nil || loc.String() == a.location().String() {
		return
	}
	a.loc.Store(loc)
	a.log.Info().Str("zone", loc.String()).Msg("archive took the new rules: Cdr times read in this zone from now on")
}

// location is the zone Cdr times are read in now.
func (a *Archive) location() *time.Location {
	if l := a.loc.Load(); l != nil {
		return l
	}
	return a.cfg.Location
}

func (a *Archive) checkZone(c CDR, fields []Field) {
	for _, f := range fields {
		if f.Key != "Timestamp" {
			continue
		}
		sec, err := strconv.ParseFloat(strings.TrimSpace(f.Value), 64)
		if err != nil || sec <= 0 {
			return
		}
		skew := time.Unix(int64(sec), 0).Sub(c.EndTime)
		if skew < -15*time.Minute || skew > 15*time.Minute {
			a.log.Warn().Str("zone", a.location().String()).Dur("skew", skew).Str("uniqueid", c.UniqueID).
				Msg("Cdr EndTime read in the configured time zone is far from the event's Timestamp: is archive.pbx_timezone the PBX's zone?")
		}
		return
	}
}

// fieldNames lists an event's field names, without their values, for logs.
func fieldNames(fields []Field) []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Key
	}
	return names
}

// fieldValue returns the value of the first field named key (any case).
func fieldValue(fields []Field, key string) string {
	for _, f := range fields {
		if strings.EqualFold(f.Key, key) {
			return f.Value
		}
	}
	return ""
}
