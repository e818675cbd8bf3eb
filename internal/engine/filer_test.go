package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// TestFilerFlagsLegsThatTalkedButHoldLittle: a leg the tracker saw talking
// whose file is missing, empty or much shorter than its talk is a policy
// violation; a leg that never talked is not.
func TestFilerFlagsLegsThatTalkedButHoldLittle(t *testing.T) {
	tests := []struct {
		name        string
		bytes       int // of samples in the file; -1: no file
		bridged     time.Duration
		short       float64
		filed       float64
		discardedOK float64
	}{
		{name: "whole", bytes: 16000 * 3, bridged: 3 * time.Second, filed: 1},
		{name: "a few frames short", bytes: 16000*3 - 1600, bridged: 3 * time.Second, filed: 1},
		{name: "most of the call lost", bytes: 16000 / 2, bridged: 4 * time.Second, short: 1, filed: 1},
		{name: "a frame of a short call", bytes: 320, bridged: 700 * time.Millisecond, short: 1, filed: 1},
		{name: "half of a short call", bytes: 16000 * 35 / 100, bridged: 700 * time.Millisecond, filed: 1},
		{name: "header only after talking", bytes: 0, bridged: 3 * time.Second, short: 1},
		{name: "no file after talking", bytes: -1, bridged: 3 * time.Second, short: 1},
		{name: "no file, never talked", bytes: -1, discardedOK: 1},
		{name: "header only, never talked", bytes: 0, discardedOK: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spool, arch := t.TempDir(), t.TempDir()
			m := NewMetrics(nil)
			f := NewFiler(spool, arch, 300*time.Millisecond, zerolog.Nop(), m, nil)
			f.poll = 10 * time.Millisecond
			r := &Recording{ID: "1700000000-235-inbound-pbx-1.2-1", Extension: "235", Uniqueid: "pbx-1.2",
				CallStart: time.Unix(1700000000, 0), Bridged: tc.bridged}
			r.LocalPath = filepath.Join(spool, r.ID+".wav")
			if tc.bytes >= 0 {
				writeWAV(t, r.LocalPath, uint32(tc.bytes), uint32(tc.bytes))
			}
			if tc.bytes < 0 {
				f.closeTimeout = 50 * time.Millisecond // noFileGrace is longer: the file is never waited for past the timeout
			}
			fileOne(t, f, r)
			if got := testutil.ToFloat64(m.RecordingsShort); got != tc.short {
				t.Errorf("short %v, want %v", got, tc.short)
			}
			if got := testutil.ToFloat64(m.Violations); got != tc.short {
				t.Errorf("violations %v, want %v", got, tc.short)
			}
			if got := testutil.ToFloat64(m.RecordingsFiled); got != tc.filed {
				t.Errorf("filed %v, want %v", got, tc.filed)
			}
			if got := testutil.ToFloat64(m.RecordingsEmpty); got != tc.discardedOK {
				t.Errorf("discarded as empty %v, want %v", got, tc.discardedOK)
			}
		})
	}
}

// TestFilerDiscardsWithoutFiling: a recording marked for discard (a ringing
// leg picked up by another phone) leaves the spool once closed, whatever it
// holds, and nothing reaches the archive.
func TestFilerDiscardsWithoutFiling(t *testing.T) {
	for _, parts := range []bool{false, true} {
		spool, arch := t.TempDir(), t.TempDir()
		m := NewMetrics(nil)
		f := NewFiler(spool, arch, 300*time.Millisecond, zerolog.Nop(), m, nil)
		f.poll = 10 * time.Millisecond
		r := &Recording{ID: "1700000000-235-inbound-pbx-1.2-1", Extension: "235", Uniqueid: "pbx-1.3",
			CallStart: time.Unix(1700000000, 0), Bridged: 0, Discard: "picked up by PJSIP/899-00000003 before answer"}
		r.LocalPath = filepath.Join(spool, r.ID+".wav")
		paths := []string{r.LocalPath}
		if parts {
			r.Parts = []string{filepath.Join(spool, r.ID+".in.wav"), filepath.Join(spool, r.ID+".out.wav")}
			paths = r.Parts
		}
		for _, p := range paths {
			writeWAV(t, p, 16000, 16000)
		}
		fileOne(t, f, r)
		for _, p := range paths {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("parts %v: %s still in the spool (%v)", parts, filepath.Base(p), err)
			}
		}
		if got := testutil.ToFloat64(m.RecordingsFiled); got != 0 {
			t.Errorf("parts %v: filed %v, want 0", parts, got)
		}
		if got := testutil.ToFloat64(m.RecordingsPickedUp); got != 1 {
			t.Errorf("parts %v: discarded %v, want 1", parts, got)
		}
		if got := testutil.ToFloat64(m.Violations); got != 0 {
			t.Errorf("parts %v: violations %v, want 0", parts, got)
		}
		if entries, _ := os.ReadDir(arch); len(entries) != 0 {
			t.Errorf("parts %v: the archive holds %d entries, want none", parts, len(entries))
		}
	}
}

// TestFilerDiscardWaitsForTheEndTime: a discarded snoop part whose end
// time comes after its close (ARI reports it just after) leaves no times
// in the spool.
func TestFilerDiscardWaitsForTheEndTime(t *testing.T) {
	spool, arch := t.TempDir(), t.TempDir()
	f := NewFiler(spool, arch, 300*time.Millisecond, zerolog.Nop(), NewMetrics(nil), nil)
	f.poll = 10 * time.Millisecond
	r := &Recording{ID: "1700000000-235-inbound-pbx-1.2-1", Extension: "235", Uniqueid: "pbx-1.3",
		CallStart: time.Unix(1700000000, 0), Discard: "picked up by PJSIP/899-00000003 before answer"}
	r.LocalPath = filepath.Join(spool, r.ID+".wav")
	r.Parts = []string{filepath.Join(spool, r.ID+".in.wav"), filepath.Join(spool, r.ID+".out.wav")}
	times := AnswerTimes{Dir: spool, Log: zerolog.Nop()}
	started := time.Unix(1700000001, 0)
	for _, p := range r.Parts {
		writeWAV(t, p, 16000, 16000)
		times.Started(strings.TrimSuffix(filepath.Base(p), ".wav"), started)
	}
	told := make(chan struct{})
	go func() {
		defer close(told)
		time.Sleep(150 * time.Millisecond)
		for _, p := range r.Parts {
			times.Finished(strings.TrimSuffix(filepath.Base(p), ".wav"), started.Add(time.Second))
		}
	}()
	fileOne(t, f, r)
	<-told
	if entries, _ := os.ReadDir(spool); len(entries) != 0 {
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		t.Errorf("left in the spool: %v", names)
	}
}

// TestWaitClosedTrustsTheKernelNotAHeaderOnlyFile: a file that shows only
// its header (Asterisk still holds its first frames in its stdio buffer) is
// not taken for closed by its looks; the kernel's close-write is.
func TestWaitClosedTrustsTheKernelNotAHeaderOnlyFile(t *testing.T) {
	spool := t.TempDir()
	w, err := NewCloseWatch(spool)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	// A close timeout of 2 s, far above the 1 s a closed file may take to
	// be seen, so that a loaded machine cannot blur the two.
	f := NewWatchedFiler(spool, t.TempDir(), 2*time.Second, zerolog.Nop(), NewMetrics(nil), nil, w)
	f.poll = 10 * time.Millisecond

	open := filepath.Join(spool, "open.wav")
	fh, err := os.Create(open)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	writeWAV(t, filepath.Join(spool, "header.tmp"), 0, 0)
	hdr, _ := os.ReadFile(filepath.Join(spool, "header.tmp"))
	if _, err := fh.Write(hdr); err != nil {
		t.Fatal(err)
	}
	if f.waitClosed(open) {
		t.Error("a header-only file still open was taken for closed")
	}
	fh.Close()
	deadline := time.Now().Add(2 * time.Second)
	for !w.Closed("open.wav") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if !f.waitClosed(open) || time.Since(start) > time.Second {
		t.Errorf("closed by the writer, yet waitClosed did not see it at once (%s)", time.Since(start))
	}
}

// fileOne files one recording with a fresh filer and returns what it filed.
func fileOne(t *testing.T, f *Filer, r *Recording) []Filed {
	t.Helper()
	var got []Filed
	next := f.onFiled
	f.onFiled = func(fd Filed) {
		got = append(got, fd)
		if next != nil {
			next(fd)
		}
	}
	f.poll = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx, 1); close(done) }()
	f.Submit(r)
	f.Wait()
	cancel()
	<-done
	return got
}

// TestFilerArchivesAPrivateCopy: the archived file is a new file, 0640, in
// folders 0750, owned as configured, with its header repaired in the copy;
// it shares no inode with the spool, so Asterisk cannot alter it later.
func TestFilerArchivesAPrivateCopy(t *testing.T) {
	spool, arch := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	m := NewMetrics(nil)
	f := NewFiler(spool, arch, 200*time.Millisecond, zerolog.Nop(), m, nil)
	f.SetArchiveOwner(4242, 4343)
	r := &Recording{ID: "1700000000-235-inbound-pbx-1.2~pbx-1.1-1", Extension: "235", Uniqueid: "pbx-1.2", CallStart: time.Unix(1700000000, 0)}
	r.LocalPath = filepath.Join(spool, r.ID+".wav")
	writeWAV(t, r.LocalPath, 0, 16000) // header left at zero by a crash
	spoolSt, _ := os.Stat(r.LocalPath)
	got := fileOne(t, f, r)
	if len(got) != 1 {
		t.Fatalf("filed %d, want 1", len(got))
	}
	st, err := os.Stat(got[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(st, spoolSt) {
		t.Error("the archived file is the spool's inode")
	}
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o640 || sys.Uid != 4242 || sys.Gid != 4343 {
		t.Errorf("archived file %v uid %d gid %d, want 0640 4242:4343", st.Mode().Perm(), sys.Uid, sys.Gid)
	}
	for d := filepath.Dir(got[0].Path); d != filepath.Dir(arch); d = filepath.Dir(d) {
		ds, _ := os.Stat(d)
		dsys := ds.Sys().(*syscall.Stat_t)
		if ds.Mode().Perm() != 0o750 || dsys.Uid != 4242 {
			t.Errorf("folder %s %v uid %d, want 0750 uid 4242", d, ds.Mode().Perm(), dsys.Uid)
		}
	}
	info, err := ReadWAVInfo(got[0].Path)
	if err != nil || info.HeaderBytes != 16000 || !got[0].Repaired {
		t.Errorf("archived header %+v %v (repaired %v), want repaired to 16000 bytes", info, err, got[0].Repaired)
	}
	if _, err := os.Stat(r.LocalPath); !os.IsNotExist(err) {
		t.Errorf("spool file still there: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(got[0].Path))
	if len(entries) != 1 {
		t.Errorf("archive folder holds %d entries, want only the recording (no temporary file left)", len(entries))
	}
}

// TestFilerInterleaved: with MixMonitor's option D, the spool file holds
// stereo frames under a one-channel header; the archived copy says two
// channels and the recording's length is counted in stereo frames; the
// spool file itself is not touched.
func TestFilerInterleaved(t *testing.T) {
	spool, arch := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	f := NewFiler(spool, arch, 200*time.Millisecond, zerolog.Nop(), NewMetrics(nil), nil)
	f.SetInterleaved(true)
	r := &Recording{ID: "1700000000-235-inbound-pbx-1.2~pbx-1.1-1", Extension: "235", Uniqueid: "pbx-1.2", CallStart: time.Unix(1700000000, 0)}
	r.LocalPath = filepath.Join(spool, r.ID+".wav")
	writeWAV(t, r.LocalPath, 64000, 64000) // two seconds of stereo
	got := fileOne(t, f, r)
	if len(got) != 1 || got[0].Duration != 2 {
		t.Fatalf("filed %+v, want one recording of 2 s", got)
	}
	info, err := ReadWAVInfo(got[0].Path)
	if err != nil || info.Channels != 2 || info.Duration() != 2 {
		t.Errorf("archived header %+v %v, want 2 channels, 2 s", info, err)
	}
}

// TestFilerRefusesWhatIsPlantedInTheSpool: a symbolic link (to a file the
// daemon may read as root) or a file of another owner, named like a
// recording, is never read, repaired, copied or removed: it is left in
// place and reported.
func TestFilerRefusesWhatIsPlantedInTheSpool(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, path, target string)
	}{
		{"symbolic link", func(t *testing.T, path, target string) {
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"file of another owner", func(t *testing.T, path, target string) {
			writeWAV(t, path, 16000, 16000)
			if err := os.Chown(path, 4242, 4242); err != nil {
				t.Fatal(err)
			}
		}},
		{"hard link to another file", func(t *testing.T, path, target string) {
			if err := os.Link(target, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"named pipe", func(t *testing.T, path, target string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spool, arch := t.TempDir(), t.TempDir()
			secret := filepath.Join(t.TempDir(), "secret.wav")
			writeWAV(t, secret, 0, 16000)
			before, _ := os.ReadFile(secret)
			m := NewMetrics(nil)
			f := NewFiler(spool, arch, 100*time.Millisecond, zerolog.Nop(), m, nil)
			r := &Recording{ID: "1700000000-235-inbound-pbx-1.2~pbx-1.1-1", Extension: "235", Uniqueid: "pbx-1.2", CallStart: time.Unix(1700000000, 0), orphan: true}
			r.LocalPath = filepath.Join(spool, r.ID+".wav")
			tc.plant(t, r.LocalPath, secret)
			if got := fileOne(t, f, r); len(got) != 0 {
				t.Fatalf("filed %+v", got)
			}
			if after, _ := os.ReadFile(secret); string(after) != string(before) {
				t.Error("the link's target was written through")
			}
			if _, err := os.Lstat(r.LocalPath); err != nil {
				t.Errorf("the planted entry was removed: %v", err)
			}
			if testutil.ToFloat64(m.RecordingsFailed) != 1 {
				t.Errorf("failed %v, want 1", testutil.ToFloat64(m.RecordingsFailed))
			}
			if entries, _ := os.ReadDir(arch); len(entries) != 0 {
				t.Errorf("archive holds %d entries, want none", len(entries))
			}
		})
	}
}
