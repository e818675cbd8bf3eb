package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/archive"
)

// These tests need no database: the spool works offline.
const offlineDSN = "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"

func TestSpoolOrderAndReopen(t *testing.T) {
	a := openTest(t, offlineDSN, nil)
	for i := 0; i < 5; i++ {
		if err := a.AddCDR(synthCDR("order", i)); err != nil {
			t.Fatal(err)
		}
	}
	// A temporary file left by a crash mid-append is not a record.
	if err := os.WriteFile(filepath.Join(a.cfg.SpoolDir, tmpPrefix+"junk"), []byte("half"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, err := Open(t.Context(), a.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := os.Stat(filepath.Join(a.cfg.SpoolDir, tmpPrefix+"junk")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file kept: %v", err)
	}
	if err := b.AddCDR(synthCDR("order", 5)); err != nil {
		t.Fatal(err)
	}
	files, err := b.spool.pending()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 {
		t.Fatalf("%d files, want 6", len(files))
	}
	for i, f := range files {
		es, _, err := b.spool.read(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := es[0].CDR.Sequence; got != int64(i) {
			t.Errorf("file %d holds sequence %d", i, got)
		}
	}
	if n, _ := b.Backlog(); n != 6 {
		t.Errorf("backlog %d, want 6", n)
	}
}

func TestMalformedIsQuarantined(t *testing.T) {
	a := openTest(t, offlineDSN, nil)
	for _, name := range []string{"malformed-no-sequence.txt", "malformed-bad-starttime.txt"} {
		err := a.AddCDR(readFixture(t, name))
		var me *archive.MalformedError
		if !errors.As(err, &me) || me.Hint == "" && me.Field == "" {
			t.Fatalf("%s: err = %v", name, err)
		}
	}
	if err := a.AddCDR(readFixture(t, "unknown-fields.txt")); err != nil {
		t.Fatalf("unknown fields: %v", err)
	}
	if err := a.AddRecording(archive.Recording{Path: "relative.wav"}); !errors.Is(err, archive.ErrMalformed) {
		t.Fatalf("bad recording: err = %v", err)
	}
	q, err := ReadQuarantine(a.cfg.SpoolDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 4 {
		t.Fatalf("%d quarantined, want 4: %+v", len(q), q)
	}
	if !strings.Contains(q[0].Reason, "Sequence") || len(q[0].Event) == 0 || q[0].Event[0].Value != "Cdr" {
		t.Errorf("first quarantined: %+v", q[0])
	}
	if !strings.Contains(q[2].Reason, "X-Billing-Code") {
		t.Errorf("unknown fields quarantined as %q", q[2].Reason)
	}
	if q[3].Recording == nil || q[3].Recording.Path != "relative.wav" {
		t.Errorf("recording quarantined as %+v", q[3])
	}
	// Only the event with unknown fields is archived.
	if n, _ := a.Backlog(); n != 1 {
		t.Errorf("backlog %d, want 1", n)
	}
}

func TestCorruptSpoolFileIsQuarantined(t *testing.T) {
	a := openTest(t, offlineDSN, nil)
	name := filepath.Join(a.cfg.SpoolDir, "00000000000000000007-1.jsonl")
	if err := os.WriteFile(name, []byte("{not json\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	n, err := a.replayBatch(t.Context())
	if err != nil || n != 0 {
		t.Fatalf("replayBatch = %d, %v", n, err)
	}
	if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
		t.Error("corrupt file left in the spool")
	}
	q, _ := ReadQuarantine(a.cfg.SpoolDir)
	if len(q) != 1 || q[0].Raw != "{not json\n" {
		t.Errorf("quarantine: %+v", q)
	}
}

func TestRunWithoutDatabaseKeepsSpooling(t *testing.T) {
	a := openTest(t, offlineDSN, func(c *Config) { c.FlushTimeout = 100 * time.Millisecond })
	stop := runArchive(t, a)
	for i := 0; i < 20; i++ {
		if err := a.AddCDR(synthCDR("offline", i)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s to stop", d)
	}
	if n, _ := a.Backlog(); n != 20 {
		t.Errorf("backlog %d, want 20", n)
	}
}

func TestBackoffCapped(t *testing.T) {
	a := openTest(t, offlineDSN, func(c *Config) { c.MinBackoff = 100 * time.Millisecond; c.MaxBackoff = time.Second })
	prev := time.Duration(0)
	for n := 1; n <= 10; n++ {
		d := a.backoff(n)
		if d > time.Second || d < 50*time.Millisecond {
			t.Errorf("backoff(%d) = %s", n, d)
		}
		if n <= 3 && d < prev {
			t.Errorf("backoff(%d) = %s < %s", n, d, prev)
		}
		prev = d
	}
}
