package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/internal/core"
	fifo "github.com/villedemercier/recpolicy/internal/queue"
	"github.com/villedemercier/recpolicy/rules"
)

// Archiver joins the daemon to the archive: it spools every AMI Cdr event
// and every filed recording, and replays them into PostgreSQL (Run).
type Archiver struct {
	arch *archive.Archive
	log  zerolog.Logger
	// Cdr events and rules loads wait here for the spooler (RunSpooler):
	// spooling fsyncs, which the event loop must never wait for.
	queue *fifo.Queue[spoolItem]
	// greeting tells how a call's caller was greeted (evidence); nil
	// stores GreetedUnknown.
	greeting func(linkedid string) string
}

// spoolItem is one Cdr event or one load of the rules file.
type spoolItem struct {
	cdr   []archive.Field
	rules *archive.RulesVersion
}

// OpenArchiver opens the archive's spool in spoolDir and prepares the
// database connection to dsn; the database need not be up. Cdr times are read in pbxZone (an IANA name; the rules' time
// zone when empty). Run applies the schema's migrations once the database
// answers.
func OpenArchiver(ctx context.Context, dsn, spoolDir, pbxZone string, current func() *rules.Rules, log zerolog.Logger) (*Archiver, error) {
	loc := current().Location()
	if pbxZone != "" {
		var err error
		if loc, err = time.LoadLocation(pbxZone); err != nil {
			return nil, fmt.Errorf("open archive: pbx time zone %q: %w (use an IANA name such as America/Toronto or UTC)", pbxZone, err)
		}
	}
	a, err := archive.Open(ctx, archive.Config{DSN: dsn, SpoolDir: spoolDir, Location: loc, Log: log, Migrate: true})
	if err != nil {
		return nil, err
	}
	log.Info().Str("spool", spoolDir).Str("pbx_timezone", loc.String()).Msg("archive spool open")
	return &Archiver{arch: a, log: log, queue: fifo.New[spoolItem]()}, nil
}

// Run replays the spool into PostgreSQL until ctx is cancelled (then
// flushes for at most a few seconds), and closes the database connections.
func (x *Archiver) Run(ctx context.Context) {
	if err := x.arch.Run(ctx); err != nil {
		x.log.Error().Err(err).Msg("archive stopped")
	}
	x.arch.Close()
}

// HandleEvent queues the event for the spooler when it is a Cdr event;
// other events are ignored. It never waits for the disk.
func (x *Archiver) HandleEvent(m *ami.Message) {
	if m.Event() != "Cdr" {
		return
	}
	hs := m.Headers()
	fields := make([]archive.Field, len(hs))
	for i, h := range hs {
		fields[i] = archive.Field{Key: h.Key, Value: h.Value}
	}
	x.queue.Push(spoolItem{cdr: fields})
}

// RulesLoaded queues a version of the rules file the daemon put in force
// (trigger: start, SIGHUP, file changed), to be kept in the database with
// its load time. It never waits for the disk.
func (x *Archiver) RulesLoaded(r *rules.Rules, trigger string, at time.Time) {
	x.queue.Push(spoolItem{rules: &archive.RulesVersion{SHA256: r.Digest(), LoadedAt: at, Trigger: trigger, Source: r.Source(), Content: r.Text()}})
}

// SetGreetings gives the archiver the greeting outcome of each call, stored
// as evidence with its recordings. Call it before the filer runs.
func (x *Archiver) SetGreetings(outcome func(linkedid string) string) { x.greeting = outcome }

// RunSpooler writes the queued Cdr events and rules loads to the durable
// spool, each fsync'd, until ctx is cancelled; it then writes what is still
// queued and returns.
func (x *Archiver) RunSpooler(ctx context.Context) {
	x.queue.Consume(ctx, func(batch []spoolItem) {
		for _, it := range batch {
			if it.rules != nil {
				if err := x.arch.AddRulesVersion(*it.rules); err != nil {
					x.log.Error().Err(err).Str("rules_sha256", it.rules.SHA256).Msg("rules version could not be spooled")
				}
				continue
			}
			if err := x.arch.AddCDR(it.cdr); err != nil && !errors.Is(err, archive.ErrMalformed) {
				// Malformed events are logged and quarantined by the archive.
				x.log.Error().Err(err).Str("uniqueid", uniqueID(it.cdr)).Msg("Cdr event could not be spooled")
			}
		}
	})
}

func uniqueID(fields []archive.Field) string {
	for _, f := range fields {
		if strings.EqualFold(f.Key, "UniqueID") {
			return f.Value
		}
	}
	return ""
}

// OnFiled returns a filer callback that spools each filed recording, then
// calls next (when not nil).
func (x *Archiver) OnFiled(next func(core.Filed)) func(core.Filed) {
	return func(f core.Filed) {
		row := RecordingRow(f)
		row.Greeting = GreetedNone
		if row.Direction == archive.DirectionInbound {
			row.Greeting = GreetedUnknown
			if x.greeting != nil {
				row.Greeting = x.greeting(row.LinkedID)
			}
		}
		if err := x.arch.AddRecording(row); err != nil && !errors.Is(err, archive.ErrMalformed) {
			x.log.Error().Err(err).Str("file", f.Path).Msg("recording metadata could not be spooled")
		}
		if next != nil {
			next(f)
		}
	}
}

// RecordingRow converts a filed recording into the archive's row.
func RecordingRow(f core.Filed) archive.Recording {
	row := archive.Recording{
		Path: f.Path, SHA256: f.SHA256, Size: f.Size, Duration: f.Duration,
		RetentionClass: archive.DefaultRetention, Repaired: f.Repaired,
	}
	if r := f.Recording; r != nil {
		row.Extension, row.Direction = r.Extension, r.Direction
		row.UniqueID, row.LinkedID = r.Uniqueid, r.Linkedid
		row.Start, row.End = r.Started, r.Stopped
		if row.Start.IsZero() {
			row.Start = r.CallStart
		}
		if r.Rules != nil {
			if e, ok := r.Rules.Extension(r.Extension); ok {
				row.Departments = e.Departments
				row.CallConfidential = e.Confidential
			}
			row.RulesSHA256 = r.Rules.Digest()
		}
		row.DecisionRule, row.DecisionReason = r.Decision.Rule, r.Decision.Reason
		if row.DecisionRule == "" {
			// Filed from a file a crash left: decided by a previous run.
			row.DecisionRule, row.DecisionReason = "recovered", "recording found in the spool after a crash or restart; decided before it"
		}
		row.CallConfidential = row.CallConfidential || r.CallConfidential || r.Decision.Confidential
		if b, err := json.Marshal(r.Parties); err == nil && len(r.Parties) > 0 {
			row.Parties = b
		}
	}
	return row
}
