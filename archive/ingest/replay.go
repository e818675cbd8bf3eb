package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/internal/pg"
	"github.com/villedemercier/recpolicy/internal/backoff"
)

// Run replays the spool into PostgreSQL until ctx is cancelled: it waits
// for the database (capped exponential backoff), applies the migrations
// when Config.Migrate is set, then writes the spool in order, a batch per
// transaction, removing each batch's files once committed. New records
// wake it at once. After ctx is cancelled it tries one last replay, capped
// by Config.FlushTimeout, and returns; what is left stays spooled for the
// next start. It starts no goroutine.
func (a *Archive) Run(ctx context.Context) error {
	if !a.running.TryLock() {
		return errors.New("run archive: already running")
	}
	defer a.running.Unlock()
	ready, migrated := false, !a.cfg.Migrate
	failures := 0
	for ctx.Err() == nil {
		if !ready {
			if err := a.connect(ctx, &migrated); err != nil {
				if ctx.Err() != nil {
					break
				}
				failures++
				a.stats.failed(err)
				wait := a.backoff(failures)
				ev := a.log.Warn()
				if failures > 1 {
					ev = a.log.Debug()
				}
				backlog, _ := a.Backlog()
				ev.Err(err).Int("attempt", failures).Dur("retry_in", wait).Int("spooled", backlog).
					Msg("archive database unreachable; records stay spooled")
				a.sleep(ctx, wait, false)
				continue
			}
			if failures > 0 {
				backlog, _ := a.Backlog()
				a.log.Info().Int("spooled", backlog).Msg("archive database reachable again; replaying the spool")
			}
			ready, failures = true, 0
			a.stats.up.Store(true)
		}
		n, err := a.replayBatch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			ready = false
			failures++
			a.stats.failed(err)
			a.log.Warn().Err(err).Int("attempt", failures).Msg("archive write failed; the batch stays spooled and is retried")
			a.sleep(ctx, a.backoff(failures), false)
			continue
		}
		if n == 0 {
			a.sleep(ctx, a.cfg.Poll, true)
		}
	}
	if ready {
		a.flush()
	}
	return nil
}

// flush replays what it can within FlushTimeout after Run's context ends.
func (a *Archive) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.FlushTimeout)
	defer cancel()
	for {
		n, err := a.replayBatch(ctx)
		if err != nil || n == 0 {
			if backlog, _ := a.Backlog(); backlog > 0 {
				a.log.Info().Int("spooled", backlog).Msg("archive stopping; records stay spooled for the next start")
			}
			return
		}
	}
}

func (a *Archive) connect(ctx context.Context, migrated *bool) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.store.Ping(cctx); err != nil {
		return err
	}
	if !*migrated {
		applied, err := a.migrate(cctx)
		if err != nil {
			return err
		}
		if len(applied) > 0 {
			a.log.Info().Ints64("versions", applied).Msg("archive schema migrated")
		}
		*migrated = true
	}
	return nil
}

// migrate applies the schema's migrations, as the owner role when
// MigrateDSN is set.
func (a *Archive) migrate(ctx context.Context) ([]int64, error) {
	if a.cfg.MigrateDSN == "" {
		return a.store.Migrate(ctx)
	}
	owner, err := archive.Connect(a.cfg.MigrateDSN)
	if err != nil {
		return nil, err
	}
	defer owner.Close()
	return owner.Migrate(ctx)
}

// backoff is the wait after n consecutive failures: doubling from
// MinBackoff, capped at MaxBackoff, with jitter.
func (a *Archive) backoff(n int) time.Duration {
	return backoff.After(n, a.cfg.MinBackoff, a.cfg.MaxBackoff)
}

// sleep waits d, or until ctx ends, or (when wakeable) until a record is
// added.
func (a *Archive) sleep(ctx context.Context, d time.Duration, wakeable bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	var wake <-chan struct{}
	if wakeable {
		wake = a.wake
	}
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-wake:
	}
}

// replayBatch writes the oldest spool files, up to BatchSize records (at
// least one file), and removes them. It returns the records handled.
func (a *Archive) replayBatch(ctx context.Context) (int, error) {
	files, err := a.spool.pending()
	if err != nil {
		return 0, err
	}
	var batch []spoolFile
	var entries []entry
	for _, f := range files {
		if len(batch) > 0 && len(entries)+f.count > a.cfg.BatchSize {
			break
		}
		es, raw, err := a.spool.read(f)
		if errors.Is(err, errCorrupt) {
			a.log.Error().Err(err).Str("file", f.name).Msg("spool file does not decode; moved to the quarantine file")
			if qerr := a.quar.add(QuarantineRecord{Reason: err.Error(), SpoolFile: f.name, Raw: string(raw)}); qerr != nil {
				return 0, qerr
			}
			if err := a.spool.remove([]spoolFile{f}); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		batch = append(batch, f)
		entries = append(entries, es...)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	start := time.Now()
	ins, err := a.write(ctx, entries)
	if err != nil && !pg.Transient(err) {
		a.log.Warn().Err(err).Int("records", len(entries)).Msg("database refused a batch; writing its records one by one")
		ins, err = a.isolate(ctx, entries)
	}
	if err != nil {
		return 0, err
	}
	if a.afterCommit != nil {
		if err := a.afterCommit(); err != nil {
			return 0, err
		}
	}
	if err := a.spool.remove(batch); err != nil {
		return 0, err
	}
	a.log.Debug().Int("records", len(entries)).Int64("calls_added", ins.Calls).Int64("recordings_added", ins.Recordings).
		Dur("took", time.Since(start)).Msg("archive batch written")
	return len(entries), nil
}

func (a *Archive) write(ctx context.Context, entries []entry) (Inserted, error) {
	var cdrs []*CDR
	var recs []*archive.Recording
	var versions []*archive.RulesVersion
	for _, e := range entries {
		switch e.Kind {
		case kindCDR:
			cdrs = append(cdrs, e.CDR)
		case kindRecording:
			recs = append(recs, e.Recording)
		case kindRules:
			versions = append(versions, e.Rules)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return NewStore(a.store).InsertBatch(wctx, cdrs, recs, versions...)
}

// isolate writes entries one at a time; one the database refuses for
// good goes to the quarantine file with the error.
func (a *Archive) isolate(ctx context.Context, entries []entry) (Inserted, error) {
	var total Inserted
	for _, e := range entries {
		ins, err := a.write(ctx, []entry{e})
		if err != nil && pg.Transient(err) {
			return total, err
		}
		if err != nil {
			ev := a.log.Error().Err(err).Str("kind", e.Kind)
			if e.CDR != nil {
				ev = ev.Str("uniqueid", e.CDR.UniqueID).Str("linkedid", e.CDR.LinkedID).Int64("sequence", e.CDR.Sequence)
			}
			if e.Recording != nil {
				ev = ev.Str("path", e.Recording.Path).Str("uniqueid", e.Recording.UniqueID)
			}
			if e.Rules != nil {
				ev = ev.Str("rules_sha256", e.Rules.SHA256)
			}
			ev.Msg("database refused a record; quarantined (its values are in the quarantine file, not in the log)")
			if qerr := a.quar.add(QuarantineRecord{Reason: fmt.Sprintf("database refused it: %v", err), CDR: e.CDR, Recording: e.Recording, Rules: e.Rules}); qerr != nil {
				return total, qerr
			}
			continue
		}
		total.Calls += ins.Calls
		total.Recordings += ins.Recordings
	}
	return total, nil
}
