package daemon

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/internal/engine"
	"github.com/villedemercier/recpolicy/rules"
)

// TestSpoolOnFullDiskLosesNothing: on a full filesystem (a small tmpfs)
// the spooler keeps the records in memory, counts the failures and
// retries; once room is made, every record reaches the spool.
func TestSpoolOnFullDiskLosesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a small tmpfs: run make test as root")
	}
	r, err := rules.Load("../../rules/mercier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	spool := filepath.Join(mnt, "spool")
	x, err := OpenArchiver(t.Context(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable", "", spool, "UTC", func() *rules.Rules { return r }, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer x.arch.Close()
	x.sleep = func(ctx context.Context, d time.Duration) { time.Sleep(5 * time.Millisecond) }
	// Fill the filesystem.
	filler := filepath.Join(mnt, "filler")
	_ = exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=4k", "count=1000").Run()

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); x.RunSpooler(ctx) }()
	const n = 20
	for i := range n {
		x.HandleEvent(cdrEvent(i))
	}
	onFiled := x.OnFiled(nil)
	start := time.Date(2026, 11, 28, 6, 26, 23, 0, time.UTC)
	onFiled(engine.Filed{Recording: &engine.Recording{Uniqueid: "pbx-9.1", Linkedid: "pbx-9.0", Extension: "235", Direction: "inbound", Rules: r, Started: start},
		Path: "/srv/archive/2026/11/28/20261128-0126-235.wav", SHA256: strings.Repeat("a1", 32), Size: 96044, Duration: 6})
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(x.spoolFailures) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if f := testutil.ToFloat64(x.spoolFailures); f < 3 {
		t.Fatalf("spool write failures %v, want the full disk seen and retried", f)
	}
	if p := testutil.ToFloat64(x.pendingGauge); p != n+1 {
		t.Errorf("records held in memory %v, want %d", p, n+1)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for x.pending.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if got, err := x.arch.Backlog(); err != nil || got != n+1 {
		t.Fatalf("spooled %d records (%v), want %d: none may be lost", got, err, n+1)
	}
}

// cdrEvent is a valid Cdr event with sequence i.
func cdrEvent(i int) *ami.Message {
	h := func(k, v string) ami.Header { return ami.Header{Key: k, Value: v} }
	return ami.NewMessage(h("Event", "Cdr"), h("Source", "5145550100"), h("Destination", "235"),
		h("StartTime", "2026-11-28 06:26:22"), h("AnswerTime", "2026-11-28 06:26:23"), h("EndTime", "2026-11-28 06:26:29"),
		h("Duration", "7"), h("BillableSeconds", "6"), h("Disposition", "ANSWERED"), h("UniqueID", "pbx-9.0"),
		h("LinkedID", "pbx-9.0"), h("Sequence", strconv.Itoa(100+i)))
}
