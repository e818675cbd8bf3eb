package ingest

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/internal/pg"
	"github.com/villedemercier/recpolicy/archive/query"
)

func TestMigrateIdempotent(t *testing.T) {
	dsn := testDB(t)
	s, err := archive.Connect(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	applied, err := s.Migrate(t.Context())
	if err != nil || len(applied) == 0 {
		t.Fatalf("first migrate: %v %v", applied, err)
	}
	applied, err = s.Migrate(t.Context())
	if err != nil || len(applied) != 0 {
		t.Fatalf("second migrate: %v %v", applied, err)
	}
	if v, err := s.SchemaVersion(t.Context()); err != nil || v != archive.LatestVersion() {
		t.Fatalf("version %d, %v", v, err)
	}
}

func sampleRecording(path, linkedid string) archive.Recording {
	return archive.Recording{
		Path: path, SHA256: strings.Repeat("ab", 32), Size: 160044, Duration: 10, Extension: "235",
		Departments: []string{"communications-ti"}, Direction: archive.DirectionInbound,
		Start: time.Date(2026, 11, 28, 6, 26, 23, 0, time.UTC), End: time.Date(2026, 11, 28, 6, 26, 29, 0, time.UTC),
		UniqueID: "mercier-pbx-1795847182.140", LinkedID: linkedid,
	}
}

func TestArchiveRoundTrip(t *testing.T) {
	a := openTest(t, testDB(t), nil)
	runArchive(t, a)
	for _, name := range []string{"answered.txt", "anonymous.txt", "garbage-numbers.txt", "unknown-fields.txt"} {
		f := readFixture(t, name)
		if name == "garbage-numbers.txt" || name == "unknown-fields.txt" { // distinct keys
			for i := range f {
				if f[i].Key == "Sequence" {
					f[i].Value += map[string]string{"garbage-numbers.txt": "1", "unknown-fields.txt": "2"}[name]
				}
			}
		}
		if err := a.AddCDR(f); err != nil {
			t.Fatal(err)
		}
	}
	// The same event twice (an AMI resend): archived once.
	if err := a.AddCDR(readFixture(t, "answered.txt")); err != nil {
		t.Fatal(err)
	}
	if err := a.AddRecording(sampleRecording("/srv/recordings/2026/11/28/20261128-0626-235.wav", "mercier-pbx-1795847182.138")); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, a, 10*time.Second)
	db := a.store.DB()
	if rows, keys := countCalls(t, a); rows != 4 || keys != 4 {
		t.Fatalf("calls %d (keys %d), want 4", rows, keys)
	}
	var src *string
	var flag, raw string
	err := db.QueryRow(`SELECT source, source_flag, source_raw FROM calls WHERE uniqueid = 'mercier-pbx-1795847188.139'`).Scan(&src, &flag, &raw)
	if err != nil || src != nil || flag != archive.NumberWithheld || raw != "anonymous" {
		t.Errorf("anonymous source: %v %q %q %v", src, flag, raw, err)
	}
	err = db.QueryRow(`SELECT source_flag, destination_flag, destination_raw FROM calls WHERE sequence = 871`).Scan(&flag, new(string), &raw)
	if err != nil || flag != archive.NumberWithheld || raw != "s" {
		t.Errorf("garbage numbers: %q %q %v", flag, raw, err)
	}
	var extra string
	if err := db.QueryRow(`SELECT extra->>'X-Billing-Code' FROM calls WHERE sequence = 872`).Scan(&extra); err != nil || extra != "42" {
		t.Errorf("extra: %q %v", extra, err)
	}
	// The cdr view has Asterisk's columns, and the recording file.
	rows, err := db.Query(`SELECT * FROM cdr WHERE uniqueid = 'mercier-pbx-1795847182.138' AND sequence = 87`)
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	want := "calldate clid src dst dcontext channel dstchannel lastapp lastdata duration billsec disposition amaflags accountcode uniqueid userfield linkedid sequence recordingfile"
	if strings.Join(cols, " ") != want {
		t.Errorf("cdr columns:\n got %s\nwant %s", strings.Join(cols, " "), want)
	}
	rows.Close()
	var calldate time.Time
	var rec, src2 string
	err = db.QueryRow(`SELECT calldate, src, recordingfile FROM cdr WHERE uniqueid = 'mercier-pbx-1795847182.138' AND sequence = 87`).Scan(&calldate, &src2, &rec)
	if err != nil || !calldate.Equal(time.Date(2026, 11, 28, 6, 26, 22, 0, time.UTC)) || src2 != "5145554442" ||
		rec != "/srv/recordings/2026/11/28/20261128-0626-235.wav" {
		t.Errorf("cdr row: %v %q %q %v", calldate, src2, rec, err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM call_recordings`).Scan(&n); err != nil || n != 3 { // three CDRs share the linkedid
		t.Errorf("call_recordings: %d %v", n, err)
	}
}

func TestReplayAfterCrashBetweenCommitAndRemove(t *testing.T) {
	a := openTest(t, testDB(t), func(c *Config) { c.BatchSize = 100 })
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	spoolSynth(t, a, "crash", 250, 10)
	crash := errors.New("simulated crash after commit")
	a.afterCommit = func() error { return crash }
	if _, err := a.replayBatch(t.Context()); !errors.Is(err, crash) {
		t.Fatalf("replayBatch: %v", err)
	}
	if rows, _ := countCalls(t, a); rows != 100 {
		t.Fatalf("%d rows after the first batch, want 100", rows)
	}
	if n, _ := a.Backlog(); n != 250 {
		t.Fatalf("backlog %d, want 250 (the batch's files stay)", n)
	}
	a.afterCommit = nil
	runArchive(t, a)
	waitDrained(t, a, 20*time.Second)
	if rows, keys := countCalls(t, a); rows != 250 || keys != 250 {
		t.Fatalf("calls %d (keys %d), want 250 once each", rows, keys)
	}
}

func TestCancelMidBatch(t *testing.T) {
	a := openTest(t, testDB(t), func(c *Config) { c.BatchSize = 5000 })
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	spoolSynth(t, a, "cancel", 20000, 500)
	// Cancel batches at various points; whatever committed, nothing is
	// lost or doubled.
	for _, after := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(t.Context(), after)
		_, err := a.replayBatch(ctx)
		cancel()
		if err != nil && !pg.Transient(err) {
			t.Fatalf("cancelled batch: non-transient error %v", err)
		}
	}
	runArchive(t, a)
	waitDrained(t, a, 60*time.Second)
	if rows, keys := countCalls(t, a); rows != 20000 || keys != 20000 {
		t.Fatalf("calls %d (keys %d), want 20000", rows, keys)
	}
}

func TestRefusedRecordIsIsolated(t *testing.T) {
	a := openTest(t, testDB(t), nil)
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	spoolSynth(t, a, "poison", 30, 30)
	bad := sampleRecording("/srv/r/bad.wav", "x")
	bad.Size = -1 // the schema's CHECK refuses it
	good := sampleRecording("/srv/r/good.wav", "y")
	if err := a.spool.append([]entry{{Kind: kindRecording, Recording: &bad}, {Kind: kindRecording, Recording: &good}}); err != nil {
		t.Fatal(err)
	}
	runArchive(t, a)
	waitDrained(t, a, 20*time.Second)
	if rows, _ := countCalls(t, a); rows != 30 {
		t.Errorf("calls %d, want 30", rows)
	}
	recs, err := query.NewStore(a.store).ListRecordings(t.Context(), query.RecordingFilter{})
	if err != nil || len(recs) != 1 || recs[0].Path != "/srv/r/good.wav" {
		t.Errorf("recordings %+v %v", recs, err)
	}
	q, _ := ReadQuarantine(a.cfg.SpoolDir)
	if len(q) != 1 || q[0].Recording == nil || q[0].Recording.Path != "/srv/r/bad.wav" || !strings.Contains(q[0].Reason, "refused") {
		t.Errorf("quarantine %+v", q)
	}
}

// TestEvidenceAndRulesVersions: a recording keeps the evidence of its
// decision; each rules load is kept; a recording recovered without its
// linkedid takes it from its channel's call record, whichever is archived
// first.
func TestEvidenceAndRulesVersions(t *testing.T) {
	a := openTest(t, testDB(t), nil)
	runArchive(t, a)
	sum := strings.Repeat("cd", 32)
	loaded := time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)
	if err := a.AddRulesVersion(archive.RulesVersion{SHA256: sum, LoadedAt: loaded, Trigger: "start", Source: "/etc/recpolicy/rules.yaml", Content: "timezone: America/Toronto\n"}); err != nil {
		t.Fatal(err)
	}
	if err := a.AddRulesVersion(archive.RulesVersion{SHA256: "nope", LoadedAt: loaded}); !errors.Is(err, archive.ErrMalformed) {
		t.Errorf("bad rules version: %v, want ErrMalformed", err)
	}
	r := sampleRecording("/srv/recordings/2026/11/28/20261128-0626-235.wav", "")
	r.UniqueID = "mercier-pbx-1795847182.138" // the channel of answered.txt's call record
	r.DecisionRule, r.DecisionReason = "external-call", "external party carrier (xxxxxxxx42) with Annexe A extension 252"
	r.Parties = []byte(`[{"channel":"PJSIP/carrier-00000001","kind":"external","by":"endpoint"},{"channel":"PJSIP/252-00000002","kind":"extension","extension":"252","by":"endpoint","confidential":true}]`)
	r.CallConfidential, r.RulesSHA256, r.Greeting = true, sum, "played"
	if err := a.AddRecording(r); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, a, 10*time.Second)
	db := a.store.DB()
	var linked string
	if err := db.QueryRow(`SELECT linkedid FROM recordings WHERE path = $1`, r.Path).Scan(&linked); err != nil || linked != "" {
		t.Fatalf("before its call record: linkedid %q, %v", linked, err)
	}
	if err := a.AddCDR(readFixture(t, "answered.txt")); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, a, 10*time.Second)
	var rule, reason, greeting, rulesSum, parties string
	var conf bool
	err := db.QueryRow(`SELECT linkedid, decision_rule, decision_reason, call_confidential, rules_sha256, greeting, parties->1->>'extension'
		FROM recordings WHERE path = $1`, r.Path).Scan(&linked, &rule, &reason, &conf, &rulesSum, &greeting, &parties)
	if err != nil || linked == "" || rule != "external-call" || !conf || rulesSum != sum || greeting != "played" || parties != "252" || reason != r.DecisionReason {
		t.Errorf("evidence: linkedid %q rule %q conf %v sum %q greeting %q parties %q reason %q, %v", linked, rule, conf, rulesSum, greeting, parties, reason, err)
	}
	var content, trigger string
	if err := db.QueryRow(`SELECT content, trigger FROM rules_versions WHERE sha256 = $1`, sum).Scan(&content, &trigger); err != nil || trigger != "start" || !strings.HasPrefix(content, "timezone:") {
		t.Errorf("rules version: %q %q %v", trigger, content, err)
	}
}

// TestReplayQuarantine: after a fix, what the quarantine holds is tried
// again; what is still refused stays, with today's reason; the file as it
// was is kept for audit.
func TestReplayQuarantine(t *testing.T) {
	a := openTest(t, testDB(t), nil)
	if _, err := a.store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	dir := a.cfg.SpoolDir
	good, _, err := ParseCDR(readFixture(t, "answered.txt"), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	bad := sampleRecording("relative/path.wav", "L1") // never valid
	for _, r := range []QuarantineRecord{
		{Reason: "database refused it: permission denied for table calls", CDR: &good},
		{Reason: "missing Sequence", Event: readFixture(t, "malformed-no-sequence.txt")},
		{Reason: "not an absolute path", Recording: &bad},
		{Reason: "spool file does not decode", SpoolFile: "00000000000000000007-1.jsonl", Raw: "{garbage"},
	} {
		if err := a.quar.add(r); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := NewStore(a.store).ReplayQuarantine(t.Context(), dir, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Tried != 1 || rep.Archived != 1 || len(rep.Kept) != 3 || rep.SavedAs == "" {
		t.Fatalf("replay: %+v", rep)
	}
	if rows, _ := countCalls(t, a); rows != 1 {
		t.Errorf("calls %d, want the quarantined call record archived", rows)
	}
	left, err := ReadQuarantine(dir)
	if err != nil || len(left) != 3 {
		t.Fatalf("quarantine after replay: %d records, %v; want 3", len(left), err)
	}
	if old, err := ReadQuarantine(dir, filepath.Base(rep.SavedAs)); err != nil || len(old) != 4 {
		t.Errorf("the file as it was: %d records, %v; want 4", len(old), err)
	}
	// Nothing left to archive: a second replay archives nothing, keeps the 3.
	if rep, err = NewStore(a.store).ReplayQuarantine(t.Context(), dir, time.UTC); err != nil || rep.Archived != 0 || len(rep.Kept) != 3 {
		t.Errorf("second replay: %+v %v", rep, err)
	}
}
