package ingest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/villedemercier/recpolicy/internal/pgtest"
)

var testDB, pgStop, pgStart = pgtest.DB, pgtest.Stop, pgtest.Start

// openTest opens an archive on a fresh spool directory, migrated.
func openTest(t testing.TB, dsn string, mod func(*Config)) *Archive {
	t.Helper()
	cfg := Config{
		DSN: dsn, SpoolDir: t.TempDir(), Location: time.UTC,
		Log:        zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, Poll: 50 * time.Millisecond,
		Migrate: true,
	}
	if mod != nil {
		mod(&cfg)
	}
	a, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// readFixture reads an AMI event written as "Key: Value" lines.
func readFixture(t testing.TB, name string) []Field {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "cdr", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Field
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		out = append(out, Field{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	return out
}

// synthCDR returns the fields of the i-th synthetic Cdr event of a run.
func synthCDR(run string, i int) []Field {
	start := time.Date(2026, 11, 28, 5, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	src := fmt.Sprintf("514555%04d", i%10000)
	if i%7 == 0 {
		src = "anonymous"
	}
	uid := fmt.Sprintf("%s-%d.%d", run, 1795840000+i/3, i)
	return []Field{
		{"Event", "Cdr"}, {"AccountCode", ""}, {"Source", src}, {"Destination", "235"},
		{"DestinationContext", "internal"}, {"CallerID", fmt.Sprintf(`"Caller %d" <%s>`, i, src)},
		{"Channel", fmt.Sprintf("PJSIP/carrier-%08x", i)}, {"DestinationChannel", fmt.Sprintf("PJSIP/235-%08x", i+1)},
		{"LastApplication", "Dial"}, {"LastData", "PJSIP/235,45,tT"},
		{"StartTime", start.Format(cdrTimeLayout)}, {"AnswerTime", start.Add(2 * time.Second).Format(cdrTimeLayout)},
		{"EndTime", start.Add(62 * time.Second).Format(cdrTimeLayout)}, {"Duration", "62"}, {"BillableSeconds", "60"},
		{"Disposition", "ANSWERED"}, {"AMAFlags", "DOCUMENTATION"}, {"UniqueID", uid}, {"UserField", ""},
		{"LinkedID", uid}, {"Sequence", fmt.Sprint(i)},
	}
}

// spoolSynth spools n synthetic CDRs directly, per files of perFile
// entries (fast setup for the replay tests).
func spoolSynth(t testing.TB, a *Archive, run string, n, perFile int) {
	t.Helper()
	var batch []entry
	for i := 0; i < n; i++ {
		c, _, err := ParseCDR(synthCDR(run, i), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, entry{Kind: kindCDR, CDR: &c})
		if len(batch) == perFile || i == n-1 {
			if err := a.spool.append(batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
}

// countCalls returns the rows of calls and their distinct keys.
func countCalls(t testing.TB, a *Archive) (rows, keys int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.store.DB().QueryRowContext(ctx,
		`SELECT count(*), count(DISTINCT (uniqueid, sequence, start_time)) FROM calls`).Scan(&rows, &keys)
	if err != nil {
		t.Fatalf("count calls: %v", err)
	}
	return rows, keys
}

// runArchive runs a.Run in a goroutine owned by the test.
func runArchive(t testing.TB, a *Archive) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("Run did not return within 30s of cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitDrained waits until the spool is empty.
func waitDrained(t testing.TB, a *Archive, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n, err := a.Backlog()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool still holds %d records after %s", n, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
