package daemon

import (
	"context"
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
	// Cdr events wait here for the spooler (RunSpooler): spooling fsyncs,
	// which the event loop must never wait for.
	cdrs *fifo.Queue[[]archive.Field]
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
	return &Archiver{arch: a, log: log, cdrs: fifo.New[[]archive.Field]()}, nil
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
	x.cdrs.Push(fields)
}

// RunSpooler writes the queued Cdr events to the durable spool, each
// fsync'd, until ctx is cancelled; it then writes what is still queued and
// returns.
func (x *Archiver) RunSpooler(ctx context.Context) {
	x.cdrs.Consume(ctx, func(batch [][]archive.Field) {
		for _, fields := range batch {
			if err := x.arch.AddCDR(fields); err != nil && !errors.Is(err, archive.ErrMalformed) {
				// Malformed events are logged and quarantined by the archive.
				x.log.Error().Err(err).Str("uniqueid", uniqueID(fields)).Msg("Cdr event could not be spooled")
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
		if err := x.arch.AddRecording(RecordingRow(f)); err != nil && !errors.Is(err, archive.ErrMalformed) {
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
			}
		}
	}
	return row
}
