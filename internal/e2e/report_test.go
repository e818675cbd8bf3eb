package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/internal/report"
	"github.com/villedemercier/recpolicy/internal/sandbox"
	"github.com/villedemercier/recpolicy/rules"
)

// TestReportListsACallMadeWhileTheDaemonWasDown: one external call of 235
// recorded; then the daemon stopped and another taken (the dialplan greets
// the caller itself). The month's report, from the archive and the PBX's
// own Master.csv, lists the second as missing its recording and not the
// first, in its CSV and in its PDF (printed by Chromium, read back by
// pdftotext).
func TestReportListsACallMadeWhileTheDaemonWasDown(t *testing.T) {
	obs := observePBX(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	place := func() string {
		t.Helper()
		num := callerNumber()
		c, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+"235", num, sandbox.Options{CallerName: "Rapport Mensuel"})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.driver.Talk(ctx, c, 3*time.Second); err != nil {
			t.Fatal(err)
		}
		id := obs.LinkedID(num)
		if id == "" {
			t.Fatalf("the PBX observer saw no channel of caller %s", num)
		}
		return id
	}
	db, err := sql.Open("postgres", h.env.PGDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // after the generated rows are removed (cleanups run last first)
	recorded := place()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var n, calls int
		db.QueryRow(`SELECT count(*) FROM recordings WHERE linkedid = $1`, recorded).Scan(&n)
		db.QueryRow(`SELECT count(*) FROM calls WHERE linkedid = $1`, recorded).Scan(&calls)
		if n > 0 && calls > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %s: %d recordings, %d call records archived", recorded, n, calls)
		}
	}
	setGreeter(t, obs, byDialplanDaemonStopped)
	unrecorded := place()
	// Generated rows beside the real calls: an outbound call of 236 earlier
	// today, recorded, and one of 237, not.
	gen := fmt.Sprintf("GEN-%d", time.Now().UnixNano())
	t.Cleanup(func() { // the generated rows leave the shared archive
		db.Exec(`DELETE FROM recordings WHERE linkedid LIKE $1`, gen+"%")
		db.Exec(`DELETE FROM calls WHERE linkedid LIKE $1`, gen+"%")
	})
	genStart := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for i, ext := range []string{"236", "237"} {
		linked := fmt.Sprintf("%s-%s", gen, ext)
		if _, err := db.Exec(`INSERT INTO calls (uniqueid, sequence, start_time, answer_time, end_time, linkedid, source, source_flag, source_raw,
  destination, destination_flag, destination_raw, channel, destination_channel, duration, billable_seconds, disposition)
VALUES ($1, 1, $2::timestamptz, $2::timestamptz, $2::timestamptz + interval '30 seconds', $1, $3, 'ok', $3, '5145550177', 'ok', '5145550177',
  'PJSIP/' || $3 || '-0000ff0' || $4, 'PJSIP/carrier-0000ff1' || $4, 30, 30, 'ANSWERED')`, linked, genStart, ext, i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO recordings (path, sha256, size, duration, extension, direction, start_time, end_time, uniqueid, linkedid)
VALUES ($1, repeat('0', 64), 960044, 30, '236', 'outbound', $2::timestamptz, $2::timestamptz + interval '30 seconds', $3, $3)`,
		"/generated/"+gen+".wav", genStart, gen+"-236"); err != nil {
		t.Fatal(err)
	}

	r, err := rules.Load(h.rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := archive.Connect(h.env.PGDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	master := filepath.Join(h.env.Root, "var/log/asterisk/cdr-csv/Master.csv")
	month := time.Now().In(r.Location()).Format("2006-01")
	var rep *report.Report
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		// Asterisk writes Master.csv when the call's records are final.
		if rep, err = report.Make(ctx, st, r, h.rulesFile, master, month, "", time.Now()); err != nil {
			t.Fatal(err)
		}
		if missing(rep, unrecorded) || time.Now().After(deadline) {
			break
		}
	}
	if !missing(rep, unrecorded) {
		t.Fatalf("the call taken while the daemon was down (%s) is not listed as missing (%d call records of the PBX, %d of them not archived)", unrecorded, rep.PBXRecords, rep.PBXOnly)
	}
	if missing(rep, recorded) {
		t.Errorf("the recorded call %s is listed as missing", recorded)
	}
	var gen236, gen237 bool
	for _, m := range rep.Missing {
		gen236 = gen236 || m.LinkedID == gen+"-236"
		gen237 = gen237 || m.LinkedID == gen+"-237" && m.Extension == "237"
	}
	if gen236 || !gen237 {
		t.Errorf("generated rows: 236's recorded call listed missing %v, 237's unrecorded call listed missing %v", gen236, gen237)
	}
	if rep.PBXOnly < 1 {
		t.Errorf("the PBX's call records the archive lacks: %d", rep.PBXOnly)
	}
	var csv strings.Builder
	if err := rep.CSV(&csv, r.Location()); err != nil || !strings.Contains(csv.String(), ",235,") || !strings.Contains(csv.String(), unrecorded) {
		t.Errorf("the CSV does not list %s: %v", unrecorded, err)
	}
	pdf := filepath.Join(t.TempDir(), report.FileName(month, "", "pdf"))
	f, err := os.Create(pdf)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.PDF(ctx, f, r.Location()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	text, err := exec.Command("pdftotext", "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext (apt-get install poppler-utils): %v", err)
	}
	if !strings.Contains(string(text), unrecorded) || !strings.Contains(string(text), "Enregistrements manquants") {
		t.Errorf("the PDF does not list %s as missing", unrecorded)
	}
}

func missing(rep *report.Report, linkedid string) bool {
	for _, m := range rep.Missing {
		if m.LinkedID == linkedid && m.Extension == "235" {
			return true
		}
	}
	return false
}
