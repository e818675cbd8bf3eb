package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/ingest"
	"github.com/villedemercier/recpolicy/internal/backoff"
	"github.com/villedemercier/recpolicy/internal/engine"
	fifo "github.com/villedemercier/recpolicy/internal/queue"
	"github.com/villedemercier/recpolicy/rules"
)

// Archiver joins the daemon to the archive: it spools every AMI Cdr event
// and every filed recording, and replays them into PostgreSQL (Run).
type Archiver struct {
	arch *ingest.Archive
	log  zerolog.Logger
	// Cdr events and rules loads wait here for the spooler (RunSpooler):
	// spooling fsyncs, which the event loop must never wait for.
	queue *fifo.Queue[spoolItem]
	// greeting tells how a call's caller was greeted (evidence); nil
	// stores GreetedUnknown.
	greeting func(linkedid string) string
	// pending counts records queued or being written; pendingRecs the
	// recordings among them (bounded by maxPendingRecordings).
	pending, pendingRecs atomic.Int64
	roomFreed            chan struct{}
	closeOnce            sync.Once
	mu                   sync.Mutex // guards done against push
	done                 bool       // RunSpooler has returned: write at once
	pendingGauge         prometheus.GaugeFunc
	spoolFailures        prometheus.Counter
	sleep                func(ctx context.Context, d time.Duration) // tests shorten it
}

// spoolItem is one Cdr event, one filed recording's metadata or one load
// of the rules file.
type spoolItem struct {
	cdr   []ingest.Field
	rec   *archive.Recording
	rules *archive.RulesVersion
}

// maxPendingRecordings bounds the filed recordings whose metadata waits in
// memory while the spool cannot be written (a full disk): beyond it the
// filer waits (its files stay on disk), so memory stays bounded. Cdr
// events are never held back: the event loop must not wait.
const maxPendingRecordings = 10000

// spoolRetryMax caps the wait between two attempts to write the spool.
const spoolRetryMax = 10 * time.Second

// OpenArchiver opens the archive's spool in spoolDir and prepares the
// database connection to dsn (migrations through migrateDSN, the owner
// role, when not empty); the database need not be up. Cdr times are read in pbxZone (an IANA name; the rules' time
// zone when empty). Run applies the schema's migrations once the database
// answers.
func OpenArchiver(ctx context.Context, dsn, migrateDSN, spoolDir, pbxZone string, current func() *rules.Rules, log zerolog.Logger) (*Archiver, error) {
	loc := current().Location()
	if pbxZone != "" {
		var err error
		if loc, err = time.LoadLocation(pbxZone); err != nil {
			return nil, fmt.Errorf("open archive: pbx time zone %q: %w (use an IANA name such as America/Toronto or UTC)", pbxZone, err)
		}
	}
	a, err := ingest.Open(ctx, ingest.Config{DSN: dsn, MigrateDSN: migrateDSN, SpoolDir: spoolDir, Location: loc, Log: log, Migrate: true})
	if err != nil {
		return nil, err
	}
	log.Info().Str("spool", spoolDir).Str("pbx_timezone", loc.String()).Msg("archive spool open")
	x := &Archiver{arch: a, log: log, queue: fifo.New[spoolItem](), roomFreed: make(chan struct{}, 1)}
	x.pendingGauge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "recpolicy_archive_spool_pending",
		Help: "Records held in memory because the durable spool could not be written yet (a full disk); none is dropped.",
	}, func() float64 { return float64(x.pending.Load()) })
	x.spoolFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "recpolicy_archive_spool_write_failures_total",
		Help: "Failed writes of the durable spool (each retried with capped backoff; the records stay in memory).",
	})
	return x, nil
}

// Run replays the spool into PostgreSQL until ctx is cancelled (then
// flushes for at most a few seconds), and closes the database connections.
func (x *Archiver) Run(ctx context.Context) {
	if err := x.arch.Run(ctx); err != nil {
		x.log.Error().Err(err).Msg("archive stopped")
	}
	x.Close()
}

// Close closes the archive's database connections; once is enough, more
// do nothing.
func (x *Archiver) Close() {
	x.closeOnce.Do(func() { x.arch.Close() })
}

// HandleEvent queues the event for the spooler when it is a Cdr event;
// other events are ignored. It never waits for the disk.
func (x *Archiver) HandleEvent(m *ami.Message) {
	if m.Event() != "Cdr" {
		return
	}
	hs := m.Headers()
	fields := make([]ingest.Field, len(hs))
	for i, h := range hs {
		fields[i] = ingest.Field{Key: h.Key, Value: h.Value}
	}
	x.push(spoolItem{cdr: fields})
}

// push queues an item for the spooler, or writes it at once (one attempt)
// once the spooler has returned.
func (x *Archiver) push(it spoolItem) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.pending.Add(1)
	if x.done {
		once, cancel := context.WithCancel(context.Background())
		cancel() // one attempt: nothing retries once the spooler is gone
		x.spoolBatch(once, []spoolItem{it})
		return
	}
	x.queue.Push(it)
}

// RulesLoaded queues a version of the rules file the daemon put in force
// (trigger: start, SIGHUP, file changed), to be kept in the database with
// its load time. It never waits for the disk.
func (x *Archiver) RulesLoaded(r *rules.Rules, trigger string, at time.Time) {
	x.push(spoolItem{rules: &archive.RulesVersion{SHA256: r.Digest(), LoadedAt: at, Trigger: trigger, Source: r.Source(), Content: r.Text()}})
}

// Collectors returns the archive's metrics, for the daemon's registry.
func (x *Archiver) Collectors() []prometheus.Collector {
	return []prometheus.Collector{newArchiveCollector(x.arch), x.pendingGauge, x.spoolFailures}
}

// SetLocation changes the zone Cdr times are read in (a rules reload, when
// the PBX's zone follows the rules').
func (x *Archiver) SetLocation(loc *time.Location) { x.arch.SetLocation(loc) }

// SetGreetings gives the archiver the greeting outcome of each call, stored
// as evidence with its recordings. Call it before the filer runs.
func (x *Archiver) SetGreetings(outcome func(linkedid string) string) { x.greeting = outcome }

// RunSpooler writes the queued Cdr events, recordings and rules loads to
// the durable spool until ctx is cancelled: each batch the queue holds is
// checked, then written in one file with one fsync (a group commit). A
// write that fails (a full disk) is tried again with capped backoff, the
// records kept in memory, so none is dropped for a passing fault. Once ctx
// is cancelled it writes what is still queued, one attempt, and returns.
func (x *Archiver) RunSpooler(ctx context.Context) {
	x.queue.Consume(ctx, func(batch []spoolItem) { x.spoolBatch(ctx, batch) })
	x.mu.Lock()
	defer x.mu.Unlock()
	x.done = true
	if rest := x.queue.Take(nil); len(rest) > 0 {
		x.spoolBatch(ctx, rest)
	}
}

// spoolBatch checks a batch and writes it in one spool file, retrying a
// failed write until it works or ctx ends.
func (x *Archiver) spoolBatch(ctx context.Context, batch []spoolItem) {
	var p ingest.Prepared
	recs := 0
	for _, it := range batch {
		var err error
		switch {
		case it.rules != nil:
			err = x.arch.PrepareRulesVersion(&p, *it.rules)
		case it.rec != nil:
			recs++
			err = x.arch.PrepareRecording(&p, *it.rec)
		default:
			err = x.arch.PrepareCDR(&p, it.cdr)
		}
		if err != nil && !errors.Is(err, archive.ErrMalformed) {
			x.log.Error().Err(err).Msg("record could not be checked for the spool")
		}
		// Malformed records are logged and quarantined by the archive.
	}
	for attempt := 1; ; attempt++ {
		err := x.arch.Write(&p)
		if err == nil {
			if attempt > 1 {
				x.log.Info().Int("attempts", attempt).Msg("spool written again; the records held in memory are safe")
			}
			break
		}
		x.spoolFailures.Inc()
		if ctx.Err() != nil {
			x.log.Error().Err(err).Int("records", p.Len()).
				Msg("stopping with records the spool could not take: their metadata is lost; the recording files they describe stay in the archive folder")
			break
		}
		wait := backoff.After(attempt, 100*time.Millisecond, spoolRetryMax)
		if attempt == 1 || attempt%20 == 0 {
			x.log.Error().Err(err).Int("records", p.Len()).Int("attempt", attempt).Dur("retry_in", wait).
				Msg("the archive spool cannot be written (disk full?); the records stay in memory and are retried")
		}
		x.wait(ctx, wait)
	}
	x.pending.Add(-int64(len(batch)))
	if recs > 0 {
		x.pendingRecs.Add(-int64(recs))
		select {
		case x.roomFreed <- struct{}{}:
		default:
		}
	}
}

// stopped tells whether RunSpooler has returned.
func (x *Archiver) stopped() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.done
}

// wait sleeps d, or less when ctx ends.
func (x *Archiver) wait(ctx context.Context, d time.Duration) {
	if x.sleep != nil {
		x.sleep(ctx, d)
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func uniqueID(fields []ingest.Field) string {
	for _, f := range fields {
		if strings.EqualFold(f.Key, "UniqueID") {
			return f.Value
		}
	}
	return ""
}

// OnFiled returns a filer callback that queues each filed recording's
// metadata for the spooler, then calls next (when not nil). When too many
// wait for a spool that cannot be written, it waits for room (the filer
// slows down; nothing is dropped).
func (x *Archiver) OnFiled(next func(engine.Filed)) func(engine.Filed) {
	return func(f engine.Filed) {
		row := RecordingRow(f)
		row.Greeting = GreetedNone
		if row.Direction == archive.DirectionInbound {
			row.Greeting = GreetedUnknown
			if x.greeting != nil {
				row.Greeting = x.greeting(row.LinkedID)
			}
		}
		for x.pendingRecs.Load() >= maxPendingRecordings && !x.stopped() {
			select {
			case <-x.roomFreed:
			case <-time.After(time.Second):
			}
		}
		x.pendingRecs.Add(1)
		x.push(spoolItem{rec: &row})
		if next != nil {
			next(f)
		}
	}
}

// RecordingRow converts a filed recording into the archive's row.
func RecordingRow(f engine.Filed) archive.Recording {
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
			// A retain instruction in force at the recording's start
			// names its class.
			if class, _ := r.Rules.RetentionClassAt(r.Extension, row.Start); class != "" {
				row.RetentionClass = class
			}
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
