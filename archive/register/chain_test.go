package register

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/internal/pgtest"
)

// chainStore returns a register on a fresh, migrated database, and the pool
// (as the database's superuser, to tamper with the log).
func chainStore(t *testing.T) (*Store, *archive.Store) {
	t.Helper()
	st, err := archive.Connect(pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return NewStore(st), st
}

// tamper runs SQL on access_log with its append-only triggers off, as a
// superuser could.
func tamper(t *testing.T, st *archive.Store, q string, args ...any) {
	t.Helper()
	db := st.DB()
	for _, stmt := range []string{"ALTER TABLE access_log DISABLE TRIGGER USER", q, "ALTER TABLE access_log ENABLE TRIGGER USER"} {
		a := args
		if stmt != q {
			a = nil
		}
		if _, err := db.Exec(stmt, a...); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

func logN(t *testing.T, s *Store, writers, each int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				rid := int64(w)
				_, err := s.LogAccess(context.Background(), AccessEntry{Login: fmt.Sprintf("user%d", w), Role: RoleDirector,
					Action: "recordings get", Object: fmt.Sprint(i), RequestID: &rid, Purpose: "qualité du service <&>", Outcome: Granted,
					Detail: map[string]any{"out": "/home/x/é.wav", "n": i, "ratio": 0.5, "nested": map[string]any{"b": 1, "a": []any{"x", 2}}}})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestAccessLogChain(t *testing.T) {
	s, st := chainStore(t)
	rep, err := s.VerifyAccessLog(t.Context())
	if err != nil || !rep.OK() || rep.Rows != 0 {
		t.Fatalf("empty log: %+v %v", rep, err)
	}
	logN(t, s, 8, 10) // 8 writers at once: one chain, no gap
	rep, err = s.VerifyAccessLog(t.Context())
	if err != nil || !rep.OK() || rep.Rows != 80 || rep.HeadSeq != 80 {
		t.Fatalf("after 80 rows: %+v %v", rep, err)
	}

	// Altered: the purpose of row 10 in the chain.
	tamper(t, st, `UPDATE access_log SET purpose = 'curiosité' WHERE chain_seq = 10`)
	rep, _ = s.VerifyAccessLog(t.Context())
	if rep.OK() || rep.Breaks[0].Seq != 10 || !strings.Contains(rep.Breaks[0].Reason, "altered") || rep.Breaks[0].Kind != BreakAltered {
		t.Fatalf("altered row: %+v", rep)
	}
	tamper(t, st, `UPDATE access_log SET purpose = 'qualité du service <&>' WHERE chain_seq = 10`)
	if rep, _ = s.VerifyAccessLog(t.Context()); !rep.OK() {
		t.Fatalf("restored row: %+v", rep)
	}
	// Altered in its detail only.
	tamper(t, st, `UPDATE access_log SET detail = jsonb_set(detail, '{out}', '"/tmp/other.wav"') WHERE chain_seq = 20`)
	if rep, _ = s.VerifyAccessLog(t.Context()); rep.OK() || rep.Breaks[0].Seq != 20 {
		t.Fatalf("altered detail: %+v", rep)
	}
	tamper(t, st, `UPDATE access_log SET detail = jsonb_set(detail, '{out}', '"/home/x/é.wav"') WHERE chain_seq = 20`)

	// Removed: row 30, then the last row (the head shows it).
	tamper(t, st, `DELETE FROM access_log WHERE chain_seq = 30`)
	rep, _ = s.VerifyAccessLog(t.Context())
	if rep.OK() || rep.Breaks[0].Seq != 31 || !strings.Contains(rep.Breaks[0].Reason, "missing") || rep.Breaks[0].Kind != BreakMissing {
		t.Fatalf("removed row: %+v", rep)
	}
	before := rep.HeadHash
	tamper(t, st, `DELETE FROM access_log WHERE chain_seq = 80`)
	if rep, _ = s.VerifyAccessLog(t.Context()); rep.HeadSeq != 79 || rep.HeadHash == before {
		t.Fatalf("removed head: %+v (the head moved back: the daemon's log holds the one before)", rep)
	}

	// A row without a place in the chain is refused by the database.
	_, err = st.DB().Exec(`INSERT INTO access_log (login, role, action, outcome) VALUES ('x', 'none', 'y', 'granted')`)
	if err == nil || !strings.Contains(err.Error(), "access_log_chained") {
		t.Fatalf("unchained insert: %v, want refused by access_log_chained", err)
	}
	// Updates and deletes stay refused with the triggers on.
	if _, err := st.DB().Exec(`UPDATE access_log SET purpose = 'x' WHERE chain_seq = 1`); err == nil {
		t.Fatal("update allowed")
	}
}
