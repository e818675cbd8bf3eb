package engine

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

func TestReadLead(t *testing.T) {
	for _, tc := range []struct {
		name, times string // "" times: no file
		lead        time.Duration
		state       leadState
		err         string
	}{
		{name: "no times", state: leadNone},
		{name: "answered after the start", times: "started 2026-12-05T06:00:00.100Z\nanswered 2026-12-05T06:00:00.600Z\n", lead: 500 * time.Millisecond, state: leadKnown},
		{name: "answer told first", times: "answered 2026-12-05T06:00:01.25+00:00\nstarted 2026-12-05T06:00:00Z\n", lead: 1250 * time.Millisecond, state: leadKnown},
		{name: "answered before the start", times: "started 2026-12-05T06:00:01Z\nanswered 2026-12-05T06:00:00Z\n", state: leadKnown},
		{name: "answered before the recording", times: "started 2026-12-05T06:00:01Z\nanswered -\n", state: leadKnown},
		{name: "a time beats an unknown", times: "started 2026-12-05T06:00:01Z\nanswered 2026-12-05T06:00:01.5Z\nanswered -\n", lead: 500 * time.Millisecond, state: leadKnown},
		{name: "never answered", times: "started 2026-12-05T06:00:01Z\n", state: leadUnanswered},
		{name: "answer without a start", times: "answered 2026-12-05T06:00:01Z\n", state: leadKnown},
		{name: "not a line of ours", times: "started 2026-12-05T06:00:01Z\nhello\n", err: ".times:2: not \"started <time>\""},
		{name: "not a time", times: "answered yesterday\n", err: ".times:1: the time is not RFC 3339"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "r.in.wav")
			if tc.times != "" {
				if err := os.WriteFile(timesPath(p), []byte(tc.times), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			lead, st, err := readLead(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "hello") {
					t.Fatalf("error %v, want one naming %q and not echoing the file", err, tc.err)
				}
				return
			}
			if err != nil || lead != tc.lead || st != tc.state {
				t.Fatalf("readLead = %v, %v, %v; want %v, %v", lead, st, err, tc.lead, tc.state)
			}
		})
	}
}

func TestAnswerTimesWritesLines(t *testing.T) {
	dir := t.TempDir()
	a := AnswerTimes{Dir: dir, Log: zerolog.Nop()}
	at := time.Date(2026, 12, 5, 6, 0, 0, 250e6, time.FixedZone("EST", -5*3600))
	a.Started("r.in", at)
	a.Answered("r.in", time.Time{})
	a.Answered("../escape", at)
	b, err := os.ReadFile(filepath.Join(dir, "r.in.times"))
	if err != nil || string(b) != "started 2026-12-05T11:00:00.25Z\nanswered -\n" {
		t.Fatalf("times %q, %v", b, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d files in the spool, want 1: a name with a slash is refused", len(ents))
	}
}

// TestFilerCutsWhatPrecededTheAnswer: parts recorded while their channel
// rang are filed from the answer on, each cut by its own start; a leg that
// never answered files nothing (unless the tracker saw it talk); the times
// leave the spool with the parts.
func TestFilerCutsWhatPrecededTheAnswer(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	ts := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }
	for _, tc := range []struct {
		name      string
		times     [2]string
		bridged   time.Duration
		cut       [2]int // frames cut from each part; -1: nothing filed
		violation bool
	}{
		{name: "answered while recording", times: [2]string{
			"started " + ts(0) + "\nanswered " + ts(250*time.Millisecond) + "\n",
			"started " + ts(50*time.Millisecond) + "\nanswered " + ts(250*time.Millisecond) + "\n"}, cut: [2]int{2000, 1600}},
		{name: "answered before the recording", times: [2]string{"started " + ts(0) + "\nanswered -\n", ""}, cut: [2]int{0, 0}},
		{name: "never answered", times: [2]string{"started " + ts(0) + "\n", "started " + ts(0) + "\n"}, cut: [2]int{-1, -1}},
		{name: "never told answered, talked", times: [2]string{"started " + ts(0) + "\n", "started " + ts(0) + "\n"}, bridged: time.Second, cut: [2]int{0, 0}},
		{name: "answered after the end", times: [2]string{"started " + ts(0) + "\nanswered " + ts(2*time.Second) + "\n", "started " + ts(0) + "\n"}, cut: [2]int{-1, -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spool, arch := t.TempDir(), filepath.Join(t.TempDir(), "archive")
			m := NewMetrics(nil)
			f := NewFiler(spool, arch, 200*time.Millisecond, zerolog.Nop(), m, nil)
			r := &Recording{ID: "1700000000-235-inbound-pbx-1.2~pbx-1.1-1", Extension: "235", Uniqueid: "pbx-1.2", CallStart: time.Unix(1700000000, 0), Bridged: tc.bridged}
			r.LocalPath = filepath.Join(spool, r.ID+".wav")
			r.Parts = []string{filepath.Join(spool, r.ID+".in.wav"), filepath.Join(spool, r.ID+".out.wav")}
			parts := [][]int16{ramp(8000, 100), ramp(8000, -500)}
			for i, p := range r.Parts {
				writePart(t, p, parts[i], false)
				if tc.times[i] != "" {
					if err := os.WriteFile(timesPath(p), []byte(tc.times[i]), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			got := fileOne(t, f, r)
			for _, p := range r.Parts {
				for _, q := range []string{p, timesPath(p)} {
					if _, err := os.Stat(q); !os.IsNotExist(err) {
						t.Errorf("%s still in the spool", q)
					}
				}
			}
			if tc.cut[0] < 0 {
				if len(got) != 0 || testutil.ToFloat64(m.RecordingsEmpty) != 1 {
					t.Fatalf("filed %d, %v empty; want nothing filed, counted empty", len(got), testutil.ToFloat64(m.RecordingsEmpty))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("filed %d, want 1", len(got))
			}
			frames := max(8000-tc.cut[0], 8000-tc.cut[1])
			b, _ := os.ReadFile(got[0].Path)
			if len(b) != 44+4*frames {
				t.Fatalf("archived %d bytes, want %d frames", len(b), frames)
			}
			for c := range parts {
				if v := int16(binary.LittleEndian.Uint16(b[44+2*c:])); v != parts[c][tc.cut[c]] {
					t.Errorf("channel %d begins with %d, want sample %d (%d)", c, v, tc.cut[c], parts[c][tc.cut[c]])
				}
			}
		})
	}
}

// TestFilerCutsAOneFileRecording: a mixed snoop recording (one file) is
// filed from its answer on, with a fresh header.
func TestFilerCutsAOneFileRecording(t *testing.T) {
	spool, arch := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	f := NewFiler(spool, arch, 200*time.Millisecond, zerolog.Nop(), NewMetrics(nil), nil)
	r := &Recording{ID: "1700000000-235-inbound-pbx-1.2~pbx-1.1-1", Extension: "235", Uniqueid: "pbx-1.2", CallStart: time.Unix(1700000000, 0)}
	r.LocalPath = filepath.Join(spool, r.ID+".wav")
	samples := ramp(8000, 40)
	writePart(t, r.LocalPath, samples, true)
	t0 := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	times := "started " + t0.Format(time.RFC3339Nano) + "\nanswered " + t0.Add(100*time.Millisecond).Format(time.RFC3339Nano) + "\n"
	if err := os.WriteFile(timesPath(r.LocalPath), []byte(times), 0o600); err != nil {
		t.Fatal(err)
	}
	got := fileOne(t, f, r)
	if len(got) != 1 || got[0].Duration != 0.9 || !got[0].Repaired {
		t.Fatalf("filed %+v, want one of 0.9 s, its crashed header repaired", got)
	}
	info, err := ReadWAVInfo(got[0].Path)
	if err != nil || info.Channels != 1 || info.HeaderBytes != 2*7200 || info.DataBytes != 2*7200 {
		t.Fatalf("archived %+v %v", info, err)
	}
	b, _ := os.ReadFile(got[0].Path)
	if v := int16(binary.LittleEndian.Uint16(b[44:])); v != samples[800] {
		t.Errorf("begins with %d, want sample 800", v)
	}
	if _, err := os.Stat(timesPath(r.LocalPath)); !os.IsNotExist(err) {
		t.Error("times left in the spool")
	}
}
