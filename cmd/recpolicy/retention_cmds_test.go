package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/archive/retention"
)

// testWAV is a tiny 8 kHz mono WAV.
func testWAV(seed byte) []byte {
	var b []byte
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, 4+24+8+1600)
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint32(b, 8000)
	b = binary.LittleEndian.AppendUint32(b, 16000)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 16)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, 1600)
	for i := range 1600 {
		b = append(b, byte(i)*seed)
	}
	return b
}

func TestRetentionCommands(t *testing.T) {
	cfg, st := archiveTestConfig(t)
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("postgres", os.Getenv("RECPOLICY_TEST_ARCHIVE_DSN"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	archDir := filepath.Join(filepath.Dir(cfg), "archive")
	n := 0
	rec := func(ext string, age time.Duration) (int64, string) {
		t.Helper()
		n++
		end := time.Now().Add(-age).UTC().Truncate(time.Second)
		p := filepath.Join(archDir, end.Format("2006/01/02"), fmt.Sprintf("%s-%s-%d.wav", end.Format("20060102-1504"), ext, n))
		os.MkdirAll(filepath.Dir(p), 0o750)
		data := testWAV(byte(n))
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		var id int64
		if err := db.QueryRow(`INSERT INTO recordings (path, sha256, size, extension, start_time, end_time, linkedid)
VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id`, p, hex.EncodeToString(sum[:]), len(data), ext, end, fmt.Sprint("L", n)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		// Its call's record: a recording not tied to its call yet is never
		// used for training (the guard fails closed).
		if _, err := db.Exec(`INSERT INTO calls (uniqueid, sequence, start_time, answer_time, end_time, linkedid, source, source_flag, source_raw,
  destination, destination_flag, destination_raw, channel, destination_channel, duration, billable_seconds, disposition)
VALUES ($1, 1, $2, $2, $2, $1, '5145550100', 'ok', '5145550100', $3, 'ok', $3, 'PJSIP/carrier-00000001', $4, 0, 0, 'ANSWERED')`,
			fmt.Sprint("L", n), end, ext, "PJSIP/"+ext+"-00000002"); err != nil {
			t.Fatal(err)
		}
		return id, p
	}
	var young []string
	for range 6 {
		_, p := rec("235", 20*24*time.Hour)
		young = append(young, p)
	}
	oldID, oldPath := rec("235", 400*24*time.Hour)
	heldID, heldPath := rec("245", 400*24*time.Hour)
	confID, _ := rec("252", 10*24*time.Hour) // the clerk: confidential
	_ = confID

	hold := func(a []string, o, e *bytes.Buffer) int { return group("hold")(a, o, e) }
	ret := func(a []string, o, e *bytes.Buffer) int { return group("retention")(a, o, e) }
	exp := func(a []string, o, e *bytes.Buffer) int { return group("export")(a, o, e) }
	destroy := func(a []string, o, e *bytes.Buffer) int { return cmdRecordingsDestroy(context.Background(), a, o, e) }

	// Bad arguments: exit 2, naming the flag.
	for _, c := range []struct {
		fn   func([]string, io2, io2) int
		args []string
		want string
	}{
		{hold, []string{"add", "--config", cfg, "--linkedid", "x", "--reason", "r", "--class", "complaint", "--by", "me"}, "--case"},
		{hold, []string{"add", "--config", cfg, "--linkedid", "x", "--case", "c", "--reason", "r", "--class", "forever", "--by", "me"}, "--class \"forever\""},
		{hold, []string{"add", "--config", cfg, "--extension", "235", "--case", "c", "--reason", "r", "--class", "complaint", "--by", "me"}, "--since"},
		{hold, []string{"release", "abc", "--config", cfg}, "hold id"},
		{ret, []string{"purge", "--config", cfg, "--max-share", "3"}, "--max-share"},
		{ret, []string{"purge"}, "--config"},
		{exp, []string{"--config", cfg, "1", "--by", "me"}, "--training"},
		{exp, []string{"--training", "--config", cfg, "1", "--by", "me", "--mask", "1-2:citizen"}, "--heard-all"},
		{exp, []string{"--training", "--config", cfg, "1", "--by", "me", "--mask", "2-1:citizen", "--heard-all"}, "end comes before the start"},
		{exp, []string{"--training", "--config", cfg, "1", "--by", "me", "--mask", "1-2:caller", "--heard-all"}, "citizen or both"},
		{exp, []string{"--training", "--config", cfg, "1", "--by", "me", "--fill", "beep"}, "--fill"},
		{destroy, []string{"1", "--config", cfg, "--by", "me"}, "--reason"},
	} {
		rc, _, errs := runCmd(c.fn, c.args...)
		if rc != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d %q; want 2 naming %s", c.args, rc, errs, c.want)
		}
	}

	rc, out, errs := runCmd(hold, "add", "--config", cfg, "--recording", heldPath, "--case", "PL-2026-014",
		"--reason", "plainte", "--class", "complaint", "--by", "Lise Tremblay", "--json")
	var h retention.Hold
	if rc != 0 || json.Unmarshal([]byte(out), &h) != nil || h.RecordingID == nil || *h.RecordingID != heldID || h.Recordings != 1 {
		t.Fatalf("hold add: %d %q %q", rc, out, errs)
	}
	if rc, out, _ := runCmd(hold, "list", "--config", cfg); rc != 0 || !strings.Contains(out, "PL-2026-014") || !strings.Contains(out, "CASE") {
		t.Errorf("hold list: %d %q", rc, out)
	}

	// Dry run, then the purge: the old file goes, the held one stays.
	rc, out, errs = runCmd(ret, "purge", "--config", cfg, "--dry-run", "--by", "test")
	if rc != 0 || !strings.Contains(out, "would destroy") || !strings.Contains(out, oldPath) || strings.Contains(out, heldPath) {
		t.Fatalf("purge --dry-run: %d %q %q", rc, out, errs)
	}
	if _, err := os.Stat(oldPath); err != nil {
		t.Fatal("dry run destroyed a file")
	}
	rc, out, errs = runCmd(ret, "purge", "--config", cfg, "--by", "test", "--json")
	var rep retention.PurgeReport
	if rc != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Recordings) != 1 || rep.Recordings[0].ID != oldID || rep.Held != 1 {
		t.Fatalf("purge: %d %q %q", rc, out, errs)
	}
	if _, err := os.Stat(oldPath); !os.IsNotExist(err) {
		t.Error("old recording not destroyed")
	}

	// Release; the hold's class keeps it three more years.
	if rc, out, errs := runCmd(hold, "release", fmt.Sprint(h.ID), "--config", cfg, "--by", "Lise Tremblay", "--reason", "réglée"); rc != 0 || !strings.Contains(out, "1095 more days") {
		t.Errorf("release: %d %q %q", rc, out, errs)
	}
	if rc, _, errs := runCmd(destroy, fmt.Sprint(heldID), "--config", cfg, "--by", "x", "--reason", "y"); rc != 1 || !strings.Contains(errs, "under hold") {
		t.Errorf("destroy held: %d %q", rc, errs)
	}

	// Training copy: random name, not of the confidential extension.
	rc, out, errs = runCmd(exp, "--training", young[1], "--config", cfg, "--by", "formatrice", "--json")
	var tc retention.TrainingCopy
	// (a random hex name may contain the digits 235 by chance: check its shape)
	if rc != 0 || json.Unmarshal([]byte(out), &tc) != nil || !regexp.MustCompile(`^formation-[0-9a-f]+\.wav$`).MatchString(filepath.Base(tc.Path)) || !strings.HasPrefix(tc.Path, filepath.Join(filepath.Dir(cfg), "training")) {
		t.Fatalf("export: %d %q %q", rc, out, errs)
	}
	if rc, _, errs := runCmd(exp, "--training", fmt.Sprint(confID), "--config", cfg, "--by", "formatrice"); rc != 1 || !strings.Contains(errs, "confidentiality") {
		t.Errorf("export confidential: %d %q", rc, errs)
	}
	// A redacted copy, the redaction logged for the administrators.
	rc, out, errs = runCmd(exp, "--training", young[2], "--config", cfg, "--by", "formatrice", "--mask", "0-0.05:both", "--fill", "silence", "--heard-all")
	if rc != 0 || !strings.Contains(out, "1 intervals masked") {
		t.Fatalf("redacted export: %d %q %q", rc, out, errs)
	}
	var logged int
	if err := db.QueryRow(`SELECT count(*) FROM training_redactions WHERE fill = 'silence' AND confirmed_by = 'formatrice'`).Scan(&logged); err != nil || logged != 1 {
		t.Errorf("training_redactions rows %d %v", logged, err)
	}
	if rc, out, errs := runCmd(exp, "redactions", "--config", cfg); rc != 0 || !strings.Contains(out, "formatrice") || !strings.Contains(out, "0.00-0.10:both") || !strings.Contains(out, "silence") {
		t.Errorf("export redactions: %d %q %q", rc, out, errs)
	}
	if rc, _, errs := runCmd(exp, "--training", fmt.Sprint(confID), "--config", cfg, "--by", "formatrice", "--drop-citizen", "--heard-all"); rc != 1 || !strings.Contains(errs, "confidentiality") {
		t.Errorf("redacted export of a confidential call: %d %q", rc, errs)
	}

	// Verify: clean, then a tampered file fails it.
	if rc, out, errs := runCmd(ret, "verify", "--config", cfg); rc != 0 || !strings.Contains(out, "0 altered") {
		t.Errorf("verify: %d %q %q", rc, out, errs)
	}
	os.WriteFile(young[0], []byte("RIFF tampered"), 0o640)
	if rc, out, _ := runCmd(ret, "verify", "--config", cfg); rc != 1 || !strings.Contains(out, "altered") || !strings.Contains(out, young[0]) {
		t.Errorf("verify tampered: %d %q", rc, out)
	}

	// By hand: too young without --early; a training copy any time.
	if rc, _, errs := runCmd(destroy, young[2], "--config", cfg, "--by", "x", "--reason", "y"); rc != 1 || !strings.Contains(errs, "--early") {
		t.Errorf("destroy young: %d %q", rc, errs)
	}
	if rc, out, errs := runCmd(ret, "destroy", "--training", fmt.Sprint(tc.ID), "--config", cfg, "--by", "formatrice", "--reason", "formation donnée"); rc != 0 || !strings.Contains(out, "destroyed training") {
		t.Errorf("destroy training: %d %q %q", rc, out, errs)
	}
	rc, out, _ = runCmd(ret, "log", "--config", cfg, "--json")
	var logs []retention.Destruction
	if rc != 0 || json.Unmarshal([]byte(out), &logs) != nil || len(logs) != 3 || logs[0].Actor != "formatrice" || logs[1].Kind != "call" || logs[2].Actor != "test" {
		t.Errorf("log: %d %q", rc, out)
	}
	if rc, out, _ := runCmd(ret, "log", "--config", cfg); rc != 0 || !strings.Contains(out, "formation donnée") {
		t.Errorf("log table: %d %q", rc, out)
	}
}
