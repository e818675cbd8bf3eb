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

// TestPreAnswer: how much of a file (1 s of 8 kHz mono) is cut as
// recorded before the answer, from its times.
func TestPreAnswer(t *testing.T) {
	at := func(ms int) string {
		return time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano)
	}
	for _, tc := range []struct {
		name, times string // "" times: no file
		bridged     time.Duration
		orphan      bool
		cut         int64
		err         string // in the log
	}{
		{name: "no times"},
		{name: "answered after the start", times: "started " + at(100) + "\nanswered " + at(600) + "\n", cut: 4000},
		{name: "answer told first", times: "answered " + at(250) + "\nstarted " + at(0) + "\n", cut: 2000},
		{name: "answered before the start", times: "started " + at(1000) + "\nanswered " + at(0) + "\n"},
		{name: "answered before the recording", times: "started " + at(0) + "\nanswered -\n"},
		{name: "a time beats an unknown", times: "started " + at(0) + "\nanswered -\nanswered " + at(500) + "\n", cut: 4000},
		{name: "answer without a start", times: "answered " + at(100) + "\n"},
		{name: "the file as long as its times", times: "started " + at(0) + "\nanswered " + at(500) + "\nfinished " + at(1000) + "\n", cut: 4000},
		{name: "skipped ticks keep ringing", times: "started " + at(0) + "\nanswered " + at(500) + "\nfinished " + at(1200) + "\n", cut: 2400},
		{name: "skipped ticks past the answer", times: "started " + at(0) + "\nanswered " + at(500) + "\nfinished " + at(2000) + "\n"},
		{name: "answered after the end", times: "started " + at(0) + "\nanswered " + at(3000) + "\n", cut: 8000},
		{name: "never answered, ended", times: "started " + at(0) + "\nfinished " + at(1000) + "\n", cut: 8000},
		{name: "never answered, ended, a crash's leftover", times: "started " + at(0) + "\nfinished " + at(1000) + "\n", orphan: true, cut: 8000},
		{name: "never answered, no end", times: "started " + at(0) + "\n", cut: 8000},
		{name: "never answered, no end, a crash's leftover", times: "started " + at(0) + "\n", orphan: true},
		{name: "never told answered, talked", times: "started " + at(0) + "\nfinished " + at(1000) + "\n", bridged: time.Second},
		{name: "not a line of ours", times: "started " + at(0) + "\nhello there\n", err: ".times:2: not "},
		{name: "not a time", times: "started yesterday\n", err: ".times:1: the time is not RFC 3339"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "r.in.wav")
			if tc.times != "" {
				if err := os.WriteFile(timesPath(p), []byte(tc.times), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var logged strings.Builder
			f := &Filer{}
			r := &Recording{Bridged: tc.bridged, orphan: tc.orphan}
			info := WAVInfo{SampleRate: 8000, Channels: 1, BitsPerSample: 16, DataOffset: 44, DataBytes: 16000, HeaderBytes: 16000}
			if got := f.preAnswer(zerolog.New(&logged), r, p, info); got != tc.cut {
				t.Errorf("cut %d frames, want %d", got, tc.cut)
			}
			if tc.err != "" && (!strings.Contains(logged.String(), tc.err) || strings.Contains(logged.String(), "hello")) {
				t.Errorf("logged %q, want an error naming %q and not echoing the file", logged.String(), tc.err)
			}
		})
	}
}

// TestCutFrames: a cut keeps whole frames only.
func TestCutFrames(t *testing.T) {
	info := WAVInfo{SampleRate: 8000, Channels: 2, BitsPerSample: 16, DataOffset: 44, DataBytes: 4*10 + 3}
	cutFrames(&info, 4)
	if info.DataOffset != 44+16 || info.DataBytes != 24 {
		t.Errorf("after a cut of 4 frames: %+v", info)
	}
	cutFrames(&info, 100)
	if info.DataBytes != 0 {
		t.Errorf("after a cut past the end: %+v", info)
	}
}

func TestAnswerTimesWritesLines(t *testing.T) {
	dir := t.TempDir()
	a := AnswerTimes{Dir: dir, Log: zerolog.Nop()}
	at := time.Date(2026, 12, 5, 6, 0, 0, 250e6, time.FixedZone("EST", -5*3600))
	a.Started("r.in", at)
	a.Answered("r.in", time.Time{})
	a.Finished("r.in", at.Add(time.Second))
	a.Answered("../escape", at)
	b, err := os.ReadFile(filepath.Join(dir, "r.in.times"))
	if err != nil || string(b) != "started 2026-12-05T11:00:00.25Z\nanswered -\nfinished 2026-12-05T11:00:01.25Z\n" {
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

// TestOrphansLeaveTimesAlone: the scan for leftovers never takes a times
// file for a recording; it removes an old one whose file is gone, and
// keeps one beside its file or still young.
func TestOrphansLeaveTimesAlone(t *testing.T) {
	spool, arch := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	m := NewMetrics(nil)
	f := NewFiler(spool, arch, 200*time.Millisecond, zerolog.Nop(), m, nil)
	old := time.Now().Add(-time.Minute)
	write := func(name string, age time.Time) string {
		p := filepath.Join(spool, name)
		if err := os.WriteFile(p, []byte("started -\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, age, age)
		return p
	}
	stale := write("1700000000-235-inbound-pbx-1.2-1.in.times", old)
	young := write("1700000000-235-inbound-pbx-1.3-1.in.times", time.Now())
	beside := write("1700000000-235-inbound-pbx-1.4-1.in.times", old)
	writePart(t, filepath.Join(spool, "1700000000-235-inbound-pbx-1.4-1.in.wav"), ramp(80, 1), false)
	if n := f.Orphans(map[string]bool{"1700000000-235-inbound-pbx-1.4-1": true}, nil); n != 0 {
		t.Errorf("queued %d, want none", n)
	}
	for p, want := range map[string]bool{stale: false, young: true, beside: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s there: %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	if v := testutil.ToFloat64(m.RecordingsFailed); v != 0 {
		t.Errorf("%v unknown files reported", v)
	}
}

// TestFilerOneFileNeverAnswered: a one-file recording made while its leg
// rang and never answered files nothing, counted empty, and leaves the
// spool with its times.
func TestFilerOneFileNeverAnswered(t *testing.T) {
	spool, arch := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	m := NewMetrics(nil)
	f := NewFiler(spool, arch, 200*time.Millisecond, zerolog.Nop(), m, nil)
	f.finishWait = 0
	r := &Recording{ID: "1700000000-235-inbound-pbx-1.2~pbx-1.1-1", Extension: "235", Uniqueid: "pbx-1.2", CallStart: time.Unix(1700000000, 0)}
	r.LocalPath = filepath.Join(spool, r.ID+".wav")
	writePart(t, r.LocalPath, ramp(8000, 40), false)
	if err := os.WriteFile(timesPath(r.LocalPath), []byte("started 2026-12-05T06:00:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := fileOne(t, f, r); len(got) != 0 || testutil.ToFloat64(m.RecordingsEmpty) != 1 {
		t.Fatalf("filed %+v, %v empty; want nothing filed, counted empty", got, testutil.ToFloat64(m.RecordingsEmpty))
	}
	for _, p := range []string{r.LocalPath, timesPath(r.LocalPath)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still in the spool", p)
		}
	}
}
