package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/internal/files"
	"github.com/villedemercier/recpolicy/archive/internal/pg"
)

// QuarantineReplay says what ReplayQuarantine did.
type QuarantineReplay struct {
	Tried    int                `json:"tried"`
	Archived int                `json:"archived"` // now in the database (or there already)
	Kept     []QuarantineRecord `json:"kept"`     // still refused, with today's reason
	SavedAs  string             `json:"saved_as"` // the quarantine file as it was, kept for audit
}

// ReplayQuarantine tries the quarantine of spoolDir again, after a fix (a
// schema, a privilege, a parser): the file is taken aside (the daemon
// starts a new one for whatever it quarantines meanwhile), each record is
// written to the database on its own — a Cdr event parsed again with loc,
// a spooled CDR, recording or rules version as kept — and those still
// refused are appended to the quarantine file again with the new reason.
// An undecodable spool file's bytes cannot be retried and are kept as
// they are. The file taken aside stays, renamed, for audit. A passing
// fault (the database down) stops the replay: what was not tried yet is
// put back as it was, and the error returned.
func (s *Store) ReplayQuarantine(ctx context.Context, spoolDir string, loc *time.Location) (QuarantineReplay, error) {
	var rep QuarantineReplay
	path := filepath.Join(spoolDir, QuarantineFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return rep, nil
	}
	aside := filepath.Join(spoolDir, fmt.Sprintf("quarantine-replayed-%s.jsonl", time.Now().UTC().Format("20060102T150405.000000000")))
	if err := os.Rename(path, aside); err != nil {
		return rep, fmt.Errorf("replay quarantine: take the file aside: %w", err)
	}
	if err := files.SyncDir(spoolDir); err != nil {
		return rep, fmt.Errorf("replay quarantine: %w", err)
	}
	rep.SavedAs = aside
	recs, err := ReadQuarantine(spoolDir, filepath.Base(aside))
	if err != nil {
		return rep, err
	}
	q := &quarantine{path: path}
	for i, r := range recs {
		e, ok, reason := quarantinedEntry(r, loc)
		if !ok {
			if reason != "" {
				r.Reason = reason
			}
			if err := q.add(r); err != nil {
				return rep, fmt.Errorf("replay quarantine: %w", err)
			}
			rep.Kept = append(rep.Kept, r)
			continue
		}
		rep.Tried++
		var vs []*archive.RulesVersion
		if e.Rules != nil {
			vs = append(vs, e.Rules)
		}
		var cdrs []*CDR
		if e.CDR != nil {
			cdrs = append(cdrs, e.CDR)
		}
		var rs []*archive.Recording
		if e.Recording != nil {
			rs = append(rs, e.Recording)
		}
		_, err := s.InsertBatch(ctx, cdrs, rs, vs...)
		switch {
		case err == nil:
			rep.Archived++
		case pg.Transient(err):
			for _, rest := range recs[i:] {
				if qerr := q.add(rest); qerr != nil {
					return rep, fmt.Errorf("replay quarantine: %w (and %w)", err, qerr)
				}
			}
			return rep, fmt.Errorf("replay quarantine: the database failed after %d records; the rest is back in the quarantine: %w", rep.Archived, err)
		default:
			r.Reason = fmt.Sprintf("database refused it again: %v", err)
			r.Time = time.Time{}
			if err := q.add(r); err != nil {
				return rep, fmt.Errorf("replay quarantine: %w", err)
			}
			rep.Kept = append(rep.Kept, r)
		}
	}
	return rep, nil
}

// quarantinedEntry turns a quarantined record back into a spool entry; ok
// false (with a reason when it changed) when it cannot be archived as is.
func quarantinedEntry(r QuarantineRecord, loc *time.Location) (entry, bool, string) {
	switch {
	case r.Event != nil:
		c, _, err := ParseCDR(r.Event, loc)
		if err != nil {
			return entry{}, false, err.Error()
		}
		return entry{Kind: kindCDR, CDR: &c}, true, ""
	case r.CDR != nil:
		return entry{Kind: kindCDR, CDR: r.CDR}, true, ""
	case r.Recording != nil:
		if err := r.Recording.Validate(); err != nil {
			return entry{}, false, err.Error()
		}
		return entry{Kind: kindRecording, Recording: r.Recording}, true, ""
	case r.Rules != nil:
		return entry{Kind: kindRules, Rules: r.Rules}, true, ""
	}
	return entry{}, false, "" // an undecodable spool file's bytes: kept for a person to read
}
