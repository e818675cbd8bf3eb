package ingest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/archive"
)

// TestRevokedPrivilegesAreWaitedOut: the daemon's role loses its INSERT
// privilege (a mistaken GRANT script, a DBA's change) while records keep
// coming; none is quarantined or lost: they stay spooled, the failure is
// counted by its SQLSTATE, and they are archived once the privilege is
// restored.
func TestRevokedPrivilegesAreWaitedOut(t *testing.T) {
	dsn := testDB(t)
	owner, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	s, err := archive.Connect(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b := make([]byte, 4)
	rand.Read(b)
	role := "recpolicy_writer_" + hex.EncodeToString(b)
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO " + role,
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO " + role,
	} {
		if _, err := owner.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		owner.ExecContext(ctx, "DROP OWNED BY "+role)
		owner.ExecContext(ctx, "DROP ROLE IF EXISTS "+role)
	})
	u, _ := url.Parse(dsn)
	u.User = url.User(role)
	a := openTest(t, u.String(), func(c *Config) {
		c.Migrate = false
		c.MinBackoff = 20 * time.Millisecond
		c.MaxBackoff = 100 * time.Millisecond
	})
	runArchive(t, a)
	add := func(seq int) {
		t.Helper()
		f := readFixture(t, "answered.txt")
		for i := range f {
			if f[i].Key == "Sequence" {
				f[i].Value = strconv.Itoa(seq)
			}
		}
		if err := a.AddCDR(f); err != nil {
			t.Fatal(err)
		}
	}
	add(1)
	waitDrained(t, a, 10*time.Second)
	if _, err := owner.Exec("REVOKE INSERT ON calls FROM " + role); err != nil {
		t.Fatal(err)
	}
	for seq := 2; seq <= 6; seq++ {
		add(seq)
	}
	deadline := time.Now().Add(10 * time.Second)
	// Between two failed writes, a reconnection may show the database up
	// for a moment: wait for a look at it down with the failures counted.
	for st := a.Stats(); (st.WriteFailures["42501"] < 2 || st.DatabaseUp) && time.Now().Before(deadline); st = a.Stats() {
		time.Sleep(5 * time.Millisecond)
	}
	if st := a.Stats(); st.WriteFailures["42501"] < 2 || st.DatabaseUp {
		t.Fatalf("stats while revoked: %+v, want 42501 failures counted and the database down", st)
	}
	if n, _ := a.Backlog(); n != 5 {
		t.Errorf("spooled while revoked: %d, want 5", n)
	}
	if q, _ := ReadQuarantine(a.cfg.SpoolDir); len(q) != 0 {
		t.Fatalf("quarantined %d records for a missing privilege: %+v", len(q), q)
	}
	if _, err := owner.Exec("GRANT INSERT ON calls TO " + role); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, a, 15*time.Second)
	if rows, _ := countCalls(t, a); rows != 6 {
		t.Errorf("calls %d after the GRANT, want 6", rows)
	}
	if q, _ := ReadQuarantine(a.cfg.SpoolDir); len(q) != 0 {
		t.Errorf("quarantined %d", len(q))
	}
}
