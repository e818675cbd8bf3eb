package daemon

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/retention"
	"github.com/villedemercier/recpolicy/internal/pgtest"
	"github.com/villedemercier/recpolicy/rules"
)

// cityRules is the city's rules file.
func cityRules(t *testing.T) *rules.Rules {
	t.Helper()
	r, err := rules.Load("../../rules/mercier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestJobsPurgeAndVerifyOnSchedule(t *testing.T) {
	dsn := pgtest.DB(t)
	st, err := archive.Connect(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := t.TempDir()
	file := func(name string, age time.Duration) string {
		p := filepath.Join(dir, name)
		data := []byte("RIFF recording " + name)
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		end := time.Now().Add(-age).UTC()
		if _, err := db.Exec(`INSERT INTO recordings (path, sha256, size, extension, start_time, end_time, linkedid)
VALUES ($1, $2, $3, '235', $4, $4, $5)`, p, hex.EncodeToString(sum[:]), len(data), end, name); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var kept []string
	for i := range 8 {
		kept = append(kept, file("young-"+string(rune('a'+i))+".wav", 30*24*time.Hour))
	}
	old := file("old.wav", 400*24*time.Hour)
	tampered := kept[0]
	if err := os.WriteFile(tampered, []byte("altered"), 0o640); err != nil {
		t.Fatal(err)
	}

	r := cityRules(t)
	reg := prometheus.NewRegistry()
	jobs, err := NewJobs(st, func() *rules.Rules { return r }, zerolog.New(zerolog.NewTestWriter(t)), reg,
		JobOptions{ArchiveDir: dir, RulesCheck: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	jobs.every = time.Second // the rules allow a minute at most
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- jobs.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		purged := testutil.ToFloat64(jobs.destroyed.WithLabelValues(retention.KindRecording))
		altered := testutil.ToFloat64(jobs.problems.WithLabelValues(archive.ProblemAltered))
		if purged == 1 && altered == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %v recordings purged, %v altered reported; want 1, 1", purged, altered)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("old recording still there: %v", err)
	}
	for _, p := range kept {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM destruction_log WHERE actor = 'retention' AND actor_kind = 'job' AND state = 'done'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("destruction log rows %d %v, want 1", n, err)
	}
	// Each integrity check is logged, with its problems and the chain.
	var altered int
	var chainOK bool
	if err := db.QueryRow(`SELECT (problems->>'altered')::int, chain_ok FROM integrity_runs WHERE actor = 'integrity' ORDER BY id LIMIT 1`).Scan(&altered, &chainOK); err != nil || altered != 1 || !chainOK {
		t.Errorf("integrity run logged: altered %d, chain %v, %v", altered, chainOK, err)
	}
}

func TestJobsRefusedPurgeIsReported(t *testing.T) {
	dsn := pgtest.DB(t)
	st, err := archive.Connect(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Every recording is due at once: the purge refuses.
	dir := t.TempDir()
	p := filepath.Join(dir, "a.wav")
	os.WriteFile(p, []byte("x"), 0o640)
	sum := sha256.Sum256([]byte("x"))
	end := time.Now().Add(-400 * 24 * time.Hour).UTC()
	if _, err := db.Exec(`INSERT INTO recordings (path, sha256, size, extension, start_time, end_time) VALUES ($1, $2, 1, '235', $3, $3)`,
		p, hex.EncodeToString(sum[:]), end); err != nil {
		t.Fatal(err)
	}
	r := cityRules(t)
	reg := prometheus.NewRegistry()
	jobs, err := NewJobs(st, func() *rules.Rules { return r }, zerolog.Nop(), reg, JobOptions{ArchiveDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Purge(t.Context()); err == nil || !strings.Contains(err.Error(), "1 of 1 recordings") {
		t.Fatalf("purge: %v", err)
	}
	if v := testutil.ToFloat64(jobs.runs.WithLabelValues(JobRetention, "refused")); v != 1 {
		t.Errorf("refused runs %v", v)
	}
	if _, err := os.Stat(p); err != nil {
		t.Errorf("refused purge removed the file: %v", err)
	}
	// Registering twice is an error, not a panic.
	if _, err := NewJobs(st, func() *rules.Rules { return r }, zerolog.Nop(), reg, JobOptions{ArchiveDir: dir}); err == nil {
		t.Error("second registration accepted")
	}
}

// TestJobsMonthlyReport: on the 1st the job writes the month before's
// report (HTML and CSV, 0640) listing the external call that has no
// recording; a second run leaves the files as they are.
func TestJobsMonthlyReport(t *testing.T) {
	dsn := pgtest.DB(t)
	st, err := archive.Connect(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	// An answered call from the carrier to 236 in November, never recorded.
	start := time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)
	if _, err := st.DB().Exec(`INSERT INTO calls (uniqueid, sequence, start_time, answer_time, end_time, linkedid, source, source_flag, source_raw,
  destination, destination_flag, destination_raw, channel, destination_channel, duration, billable_seconds, disposition)
VALUES ('u1', 1, $1::timestamptz, $1::timestamptz, $1::timestamptz + interval '40 seconds', 'L-nov', '5145550100', 'ok', '5145550100', '236', 'ok', '236',
  'PJSIP/carrier-00000001', 'PJSIP/236-00000002', 40, 40, 'ANSWERED')`, start); err != nil {
		t.Fatal(err)
	}
	r := cityRules(t)
	if r.Schedules().Report == "" {
		t.Fatal("the city's rules schedule no monthly report (schedules.report)")
	}
	dir := t.TempDir()
	reports := filepath.Join(dir, "reports")
	reg := prometheus.NewRegistry()
	jobs, err := NewJobs(st, func() *rules.Rules { return r }, zerolog.New(zerolog.NewTestWriter(t)), reg,
		JobOptions{ArchiveDir: dir, ReportsDir: reports, Archive: st, RulesFile: "../../rules/mercier.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC) // 6:00 in Mercier
	files, err := jobs.Report(t.Context(), now)
	if err != nil || len(files) != 2 {
		t.Fatalf("report job: %v %v", files, err)
	}
	html, _ := os.ReadFile(filepath.Join(reports, "rapport-conformite-2026-11.html"))
	csv, _ := os.ReadFile(filepath.Join(reports, "rapport-conformite-2026-11.csv"))
	if !strings.Contains(string(html), "L-nov") || !strings.Contains(string(csv), "manquant,2026-11-18 10:00:00,236") {
		t.Errorf("the report does not list the missing recording:\n%s", csv)
	}
	if fi, err := os.Stat(filepath.Join(reports, "rapport-conformite-2026-11.csv")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("report file mode: %v %v", fi, err)
	}
	if v := testutil.ToFloat64(jobs.runs.WithLabelValues(JobReport, "problems")); v != 1 {
		t.Errorf("report runs with problems: %v", v)
	}
	if again, err := jobs.Report(t.Context(), now); err != nil || len(again) != 0 {
		t.Errorf("second run rewrote %v (%v)", again, err)
	}
}
