package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/archive/ingest"
	"github.com/villedemercier/recpolicy/internal/engine"
	"github.com/villedemercier/recpolicy/rules"
)

func TestArchiverSpoolsCdrAndFiled(t *testing.T) {
	r, err := rules.Load("../../rules/mercier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	x, err := OpenArchiver(t.Context(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable", "", dir, "UTC", func() *rules.Rules { return r }, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer x.arch.Close()
	x.HandleEvent(ami.NewMessage(ami.Header{Key: "Event", Value: "Newchannel"}))
	x.HandleEvent(ami.NewMessage(
		ami.Header{Key: "Event", Value: "Cdr"}, ami.Header{Key: "Source", Value: "anonymous"},
		ami.Header{Key: "Destination", Value: "235"}, ami.Header{Key: "StartTime", Value: "2026-11-28 06:26:22"},
		ami.Header{Key: "AnswerTime", Value: ""}, ami.Header{Key: "EndTime", Value: "2026-11-28 06:26:29"},
		ami.Header{Key: "Duration", Value: "7"}, ami.Header{Key: "BillableSeconds", Value: "0"},
		ami.Header{Key: "Disposition", Value: "NO ANSWER"}, ami.Header{Key: "UniqueID", Value: "pbx-1.1"},
		ami.Header{Key: "LinkedID", Value: "pbx-1.1"}, ami.Header{Key: "Sequence", Value: "4"}))
	// A Cdr event without Sequence is quarantined, not lost.
	x.HandleEvent(ami.NewMessage(ami.Header{Key: "Event", Value: "Cdr"}, ami.Header{Key: "UniqueID", Value: "pbx-1.2"}))
	// The rules version in force goes through the same spool.
	x.RulesLoaded(r, "start", time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC))
	// The spooler writes what was queued, then returns once its context is done.
	done, cancel := context.WithCancel(t.Context())
	cancel()
	x.RunSpooler(done)
	var got engine.Filed
	onFiled := x.OnFiled(func(f engine.Filed) { got = f })
	start := time.Date(2026, 11, 28, 6, 26, 23, 0, time.UTC)
	onFiled(engine.Filed{
		Recording: &engine.Recording{Uniqueid: "pbx-1.3", Linkedid: "pbx-1.1", Extension: "245", Direction: "inbound",
			Rules: r, Started: start, Stopped: start.Add(6 * time.Second)},
		Path: "/srv/archive/2026/11/28/20261128-0126-245.wav", SHA256: strings.Repeat("a1", 32), Size: 96044, Duration: 6,
	})
	if got.Path == "" {
		t.Error("next callback not called")
	}
	row := RecordingRow(got)
	if strings.Join(row.Departments, ",") != "greffe,communications-ti" || row.LinkedID != "pbx-1.1" || row.RetentionClass != "standard" {
		t.Errorf("row %+v", row)
	}
	n, err := x.arch.Backlog()
	if err != nil || n != 3 {
		t.Errorf("backlog %d %v, want 3 (a call record, a rules version, a recording)", n, err)
	}
	// The archive's state is on /metrics.
	reg := prometheus.NewRegistry()
	reg.MustRegister(x.Collectors()...)
	want := `
# HELP recpolicy_archive_quarantined_total Records put in the quarantine file since the daemon started (a row that can never be valid).
# TYPE recpolicy_archive_quarantined_total counter
recpolicy_archive_quarantined_total 1
# HELP recpolicy_archive_spooled_records Records (call records, recording metadata, rules versions) waiting in the durable spool for the database.
# TYPE recpolicy_archive_spooled_records gauge
recpolicy_archive_spooled_records 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "recpolicy_archive_quarantined_total", "recpolicy_archive_spooled_records"); err != nil {
		t.Error(err)
	}
	q, err := ingest.ReadQuarantine(dir)
	if err != nil || len(q) != 1 || !strings.Contains(q[0].Reason, "Sequence") && !strings.Contains(q[0].Reason, "missing") {
		t.Errorf("quarantine %+v %v", q, err)
	}
}

// TestRecordingRowEvidence: each row carries the evidence of its decision;
// a recording recovered after a crash says so, and is flagged confidential
// when its extension is.
func TestRecordingRowEvidence(t *testing.T) {
	r, err := rules.Load("../../rules/mercier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 28, 6, 26, 23, 0, time.UTC)
	d := r.Decide(rules.Party{Endpoint: "carrier", Number: "5145550100"}, rules.Party{Endpoint: "235", Number: "235"})
	row := RecordingRow(engine.Filed{Recording: &engine.Recording{Uniqueid: "u2", Linkedid: "u1", Extension: "235", Direction: "inbound",
		Rules: r, Decision: d, CallConfidential: true, Started: start,
		Parties: []engine.PartyEvidence{{Channel: "PJSIP/carrier-1", Kind: "external", By: "endpoint"}, {Channel: "PJSIP/235-2", Kind: "extension", Extension: "235", By: "endpoint"}}},
		Path: "/srv/a.wav", SHA256: strings.Repeat("a1", 32)})
	if row.DecisionRule != rules.RuleExternalCall || row.DecisionReason != d.Reason || !row.CallConfidential ||
		row.RulesSHA256 != r.Digest() || !strings.Contains(string(row.Parties), `"by":"endpoint"`) {
		t.Errorf("row %+v", row)
	}
	orphan := RecordingRow(engine.Filed{Recording: &engine.Recording{Uniqueid: "u3", Extension: "252", Direction: "inbound", Rules: r, CallStart: start},
		Path: "/srv/b.wav", SHA256: strings.Repeat("a1", 32)})
	if orphan.DecisionRule != "recovered" || !orphan.CallConfidential || string(orphan.Parties) != "" {
		t.Errorf("orphan row %+v", orphan)
	}
}
