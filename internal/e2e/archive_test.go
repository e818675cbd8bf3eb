package e2e

import (
	"context"
	"database/sql"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// TestArchiveSurvivesDatabaseOutage: PostgreSQL is down while calls are
// placed; the daemon keeps recording and spooling, and once the database is
// back every call record and the recording arrive, once.
func TestArchiveSurvivesDatabaseOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := h.env.StopPG(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = h.env.StartPG(context.Background())
		}
	})
	mark := h.filedCount()
	placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Inbound(ctx, sandbox.DIDPrefix+"239", "5145550180", sandbox.Options{})
	}, 2*time.Second)
	placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Internal(ctx, "239", "254", sandbox.Options{})
	}, time.Second)
	waitFiled(t, mark, 1, time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s) during the outage, want 1: recording must not depend on the database", len(got), describeFiled(got))
	}
	linkedid, path := got[0].Recording.Linkedid, got[0].Path
	time.Sleep(2 * time.Second) // the daemon retries against a dead database meanwhile
	if err := h.env.StartPG(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	db, err := sql.Open("postgres", h.env.PGDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var recs, cdrs int
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		_ = db.QueryRowContext(ctx, `SELECT count(*) FROM recordings WHERE path = $1`, path).Scan(&recs)
		_ = db.QueryRowContext(ctx, `SELECT count(*) FROM calls WHERE linkedid = $1`, linkedid).Scan(&cdrs)
		if recs > 0 && cdrs > 0 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if recs != 1 {
		t.Fatalf("recording %s is in the database %d times after the outage, want once", path, recs)
	}
	if cdrs < 1 {
		t.Fatalf("no call record for linkedid %s after the outage", linkedid)
	}
	// Let the replay finish, then check nothing arrived twice.
	time.Sleep(3 * time.Second)
	var dup int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT uniqueid, sequence, start_time FROM calls
		WHERE linkedid = $1 GROUP BY 1, 2, 3 HAVING count(*) > 1) d`, linkedid).Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if dup != 0 {
		t.Fatalf("%d call records arrived more than once", dup)
	}
	var link int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM cdr WHERE linkedid = $1 AND recordingfile = $2`, linkedid, path).Scan(&link); err != nil {
		t.Fatal(err)
	}
	if link < 1 {
		t.Errorf("the cdr view does not point the call's records at %s", path)
	}
	// The evidence of the decision travelled with the row, and the rules
	// version it names is kept.
	var rule, greeting, sum, partyExt, partyBy string
	var conf, kept bool
	if err := db.QueryRowContext(ctx, `SELECT decision_rule, greeting, rules_sha256, call_confidential,
		COALESCE((SELECT p->>'extension' FROM jsonb_array_elements(parties) p WHERE p->>'kind' = 'extension' LIMIT 1), ''),
		COALESCE((SELECT p->>'by' FROM jsonb_array_elements(parties) p WHERE p->>'kind' = 'external' LIMIT 1), ''),
		EXISTS (SELECT 1 FROM rules_versions v WHERE v.sha256 = recordings.rules_sha256)
		FROM recordings WHERE path = $1`, path).Scan(&rule, &greeting, &sum, &conf, &partyExt, &partyBy, &kept); err != nil {
		t.Fatal(err)
	}
	if rule != "external-call" || greeting != "played" || sum == "" || !kept || conf || partyExt != "239" || partyBy != "endpoint" {
		t.Errorf("evidence: rule %q greeting %q rules %q (kept %v) confidential %v parties: extension %q, external by %q", rule, greeting, sum, kept, conf, partyExt, partyBy)
	}
}
