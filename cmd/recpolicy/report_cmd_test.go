package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReportCommand: the month's report as CSV and HTML, to a new file or
// the standard output; bad arguments name the fix.
func TestReportCommand(t *testing.T) {
	cfg, st := archiveTestConfig(t)
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)
	if _, err := st.DB().Exec(`INSERT INTO calls (uniqueid, sequence, start_time, answer_time, end_time, linkedid, source, source_flag, source_raw,
  destination, destination_flag, destination_raw, channel, destination_channel, duration, billable_seconds, disposition)
VALUES ('u1', 1, $1::timestamptz, $1::timestamptz, $1::timestamptz + interval '40 seconds', 'L-nov', '5145550100', 'ok', '5145550100', '236', 'ok', '236',
  'PJSIP/carrier-00000001', 'PJSIP/236-00000002', 40, 40, 'ANSWERED')`, start); err != nil {
		t.Fatal(err)
	}
	report := func(a []string, o, e *bytes.Buffer) int { return cmdReport(context.Background(), a, o, e) }
	rc, out, errs := runCmd(report, "--config", cfg, "--month", "2026-11", "--format", "csv")
	if rc != 0 || !strings.Contains(out, "manquant,2026-11-18 10:00:00,236,5145550100,236,40,L-nov") {
		t.Fatalf("report csv: %d %s %s", rc, out, errs)
	}
	file := filepath.Join(t.TempDir(), "rapport.html")
	rc, out, errs = runCmd(report, "--config", cfg, "--month", "2026-11", "--department", "finances", "--out", file)
	if rc != 0 || !strings.Contains(out, "1 external calls, 0 recorded, 1 missing") {
		t.Fatalf("report html: %d %s %s", rc, out, errs)
	}
	if b, err := os.ReadFile(file); err != nil || !strings.Contains(string(b), "L-nov") || !strings.Contains(string(b), "Finances") {
		t.Errorf("the HTML file: %v", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", cfg}, "--month is required"},
		{[]string{"--config", cfg, "--month", "2026-11", "--format", "docx"}, "give html, pdf or csv"},
		{[]string{"--config", cfg, "--month", "novembre"}, "YYYY-MM"},
		{[]string{"--config", cfg, "--month", "2026-11", "--department", "nulle-part"}, "recpolicy rules show"},
		{[]string{"--config", cfg, "--month", "2026-11", "--out", file}, "exists"},
	} {
		if rc, _, errs := runCmd(report, c.args...); rc == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d %q; want an error naming %q", c.args, rc, errs, c.want)
		}
	}
}
