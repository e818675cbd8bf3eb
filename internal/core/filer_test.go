package core

import (
	"context"
	"os"
	"path/filepath"
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
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { f.Run(ctx, 1); close(done) }()
			f.Submit(r)
			f.Wait()
			cancel()
			<-done
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
	f := NewWatchedFiler(spool, t.TempDir(), 400*time.Millisecond, zerolog.Nop(), NewMetrics(nil), nil, w)
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
	if !f.waitClosed(open) || time.Since(start) > 100*time.Millisecond {
		t.Errorf("closed by the writer, yet waitClosed did not see it at once (%s)", time.Since(start))
	}
}
