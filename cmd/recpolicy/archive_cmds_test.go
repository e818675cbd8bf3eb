package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/ingest"
	"github.com/villedemercier/recpolicy/internal/pgtest"
)

// archiveTestConfig creates a fresh database and a daemon config naming it
// (DSN through an environment variable), and returns the config's path.
func archiveTestConfig(t *testing.T) (string, *archive.Store) {
	t.Helper()
	dsn := pgtest.DB(t)
	t.Setenv("RECPOLICY_TEST_ARCHIVE_DSN", dsn)
	rulesFile, _ := filepath.Abs("../../rules/mercier.yaml")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "recpolicy.yaml")
	body := `rules_file: ` + rulesFile + `
ami: {address: 127.0.0.1:5038, username: x, secret: {env: UNUSED_AMI}}
ari: {url: http://127.0.0.1:8088/ari, username: x, password: {env: UNUSED_ARI}}
recording: {asterisk_dir: /tmp/a, local_dir: ` + dir + `/rec}
archive: {dir: ` + dir + `/archive, spool_dir: ` + dir + `/spool, dsn: {env: RECPOLICY_TEST_ARCHIVE_DSN}}
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := archive.Connect(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return cfg, st
}

func cdrFields(uid string, seq int, src, dst, ch, dch string, start time.Time) []ingest.Field {
	f := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }
	return []ingest.Field{
		{Key: "Source", Value: src}, {Key: "Destination", Value: dst}, {Key: "Channel", Value: ch},
		{Key: "DestinationChannel", Value: dch}, {Key: "StartTime", Value: f(start)}, {Key: "AnswerTime", Value: f(start)},
		{Key: "EndTime", Value: f(start.Add(30 * time.Second))}, {Key: "Duration", Value: "30"},
		{Key: "BillableSeconds", Value: "30"}, {Key: "Disposition", Value: "ANSWERED"}, {Key: "UniqueID", Value: uid},
		{Key: "LinkedID", Value: uid}, {Key: "Sequence", Value: string(rune('0' + seq))},
	}
}

func runCmd(fn func([]string, io2, io2) int, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	rc := fn(args, &out, &errb)
	return rc, out.String(), errb.String()
}

type io2 = *bytes.Buffer

func TestArchiveCommands(t *testing.T) {
	cfg, st := archiveTestConfig(t)
	calls := func(a []string, o, e *bytes.Buffer) int { return group("calls")(a, o, e) }
	recs := func(a []string, o, e *bytes.Buffer) int { return group("recordings")(a, o, e) }
	migrate := func(a []string, o, e *bytes.Buffer) int { return group("migrate")(a, o, e) }

	if rc, out, errs := runCmd(migrate, "--config", cfg); rc != 0 || !strings.Contains(out, fmt.Sprintf("version %d", archive.LatestVersion())) {
		t.Fatalf("migrate: %d %q %q", rc, out, errs)
	}
	if rc, out, _ := runCmd(migrate, "--config", cfg); rc != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate again: %d %q", rc, out)
	}
	// 2026-11-28 14:00 UTC is 09:00 in Toronto.
	t0 := time.Date(2026, 11, 28, 14, 0, 0, 0, time.UTC)
	var cdrs []*ingest.CDR
	for _, f := range [][]ingest.Field{
		cdrFields("u1", 1, "5145550100", "235", "PJSIP/carrier-00000001", "PJSIP/235-00000002", t0),
		cdrFields("u2", 2, "252", "5145550199", "PJSIP/252-00000003", "PJSIP/carrier-00000004", t0.Add(time.Hour)),
		cdrFields("u3", 3, "anonymous", "231", "PJSIP/carrier-00000005", "PJSIP/231-00000006", t0.Add(-48*time.Hour)),
	} {
		c, _, err := ingest.ParseCDR(f, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		cdrs = append(cdrs, &c)
	}
	rec := &archive.Recording{Path: "/srv/a/20261128-0900-235.wav", SHA256: strings.Repeat("0f", 32), Size: 1000, Duration: 29.5,
		Extension: "235", Departments: []string{"communications-ti"}, Direction: "inbound", Start: t0, End: t0.Add(30 * time.Second),
		UniqueID: "u1b", LinkedID: "u1", RetentionClass: "standard"}
	if _, err := ingest.NewStore(st).InsertBatch(context.Background(), cdrs, []*archive.Recording{rec}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		fn    func([]string, *bytes.Buffer, *bytes.Buffer) int
		args  []string
		rc    int
		out   []string // substrings of stdout
		notIn []string
		err   string // substring of stderr
	}{
		{"all calls", calls, []string{"list"}, 0, []string{"START", "5145550100", "(withheld: anonymous)", "2026-11-28 09:00:00"}, nil, ""},
		{"by extension", calls, []string{"list", "--extension", "252"}, 0, []string{"u2"}, []string{"u1", "u3"}, ""},
		{"by department", calls, []string{"list", "--department", "communications-ti"}, 0, []string{"u1"}, []string{"u2", "u3"}, ""},
		{"inbound", calls, []string{"list", "--direction", "inbound"}, 0, []string{"u1", "u3"}, []string{"u2"}, ""},
		{"outbound", calls, []string{"list", "--direction", "outbound"}, 0, []string{"u2"}, []string{"u1 ", "u3"}, ""},
		{"since date", calls, []string{"list", "--since", "2026-11-28"}, 0, []string{"u1", "u2"}, []string{"u3"}, ""},
		{"until date is inclusive", calls, []string{"list", "--until", "2026-11-26"}, 0, []string{"u3"}, []string{"u1", "u2"}, ""},
		{"since RFC 3339", calls, []string{"list", "--since", "2026-11-28T09:30:00-05:00"}, 0, []string{"u2"}, []string{"u1", "u3"}, ""},
		{"number", calls, []string{"list", "--number", "514-555-0100"}, 0, []string{"u1"}, []string{"u2", "u3"}, ""},
		{"anonymous", calls, []string{"list", "--number", "anonymous"}, 0, []string{"u3"}, []string{"u1", "u2"}, ""},
		{"json", calls, []string{"list", "--json", "--extension", "235"}, 0, []string{`"uniqueid": "u1"`, `"recordings": [`, "20261128-0900-235.wav"}, nil, ""},
		{"recordings", recs, []string{"list"}, 0, []string{"EXTENSION", "235", "29.5s", "communications-ti", "/srv/a/20261128-0900-235.wav"}, nil, ""},
		{"recordings by department", recs, []string{"list", "--department", "greffe"}, 0, []string{"START"}, []string{"/srv/a"}, ""},
		{"recordings by number", recs, []string{"list", "--number", "5145550100", "--json"}, 0, []string{`"path": "/srv/a/20261128-0900-235.wav"`}, nil, ""},
		{"recordings direction", recs, []string{"list", "--direction", "outbound"}, 0, nil, []string{"/srv/a"}, ""},
		{"no config", calls, []string{"list"}, 2, nil, nil, "--config is required"},
		{"bad direction", calls, []string{"list", "--direction", "sideways"}, 2, nil, nil, `--direction "sideways" is unknown: use inbound, outbound or other`},
		{"bad since", recs, []string{"list", "--since", "yesterday"}, 2, nil, nil, `--since "yesterday" is not a date`},
		{"bad extension", calls, []string{"list", "--extension", "abc"}, 2, nil, nil, `--extension "abc" is not an extension number`},
		{"unknown department", calls, []string{"list", "--department", "cuisine"}, 2, nil, nil, `--department "cuisine" is not in`},
		{"since after until", calls, []string{"list", "--since", "2026-11-29", "--until", "2026-11-28"}, 2, nil, nil, "is not before --until"},
		{"no subcommand", calls, nil, 2, nil, nil, "recpolicy calls list"},
		{"stray argument", recs, []string{"list", "235"}, 2, nil, nil, `unexpected argument "235"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.name != "no config" && len(args) > 0 {
				args = append([]string{args[0], "--config", cfg}, args[1:]...)
			}
			rc, out, errs := runCmd(tt.fn, args...)
			if rc != tt.rc {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", rc, tt.rc, out, errs)
			}
			for _, s := range tt.out {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.notIn {
				if strings.Contains(out, s) {
					t.Errorf("stdout has %q:\n%s", s, out)
				}
			}
			if tt.err != "" && !strings.Contains(errs, tt.err) {
				t.Errorf("stderr %q lacks %q", errs, tt.err)
			}
			if tt.rc == 0 && strings.Contains(strings.Join(args, " "), "--json") {
				var v []map[string]any
				if err := json.Unmarshal([]byte(out), &v); err != nil {
					t.Errorf("--json output does not decode: %v", err)
				}
			}
		})
	}
}
