package ingest

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDatabaseOutageDuringWrites stops the sandbox PostgreSQL while CDRs
// are being added and replayed, keeps adding, restarts it, and checks
// every record arrived once.
func TestDatabaseOutageDuringWrites(t *testing.T) {
	a := openTest(t, testDB(t), func(c *Config) { c.BatchSize = 50 })
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	runArchive(t, a)
	const total = 1500
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	cut := make(chan struct{}) // the second half is written once the database is down
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < total; i++ {
			if i == total/2 {
				<-cut
			}
			if err := a.AddCDR(synthCDR("outage", i)); err != nil {
				errs <- err
				return
			}
			if i%100 == 0 {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	// Wait for some rows to land, then cut the database mid-stream.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if rows, _ := countCalls(t, a); rows > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no row arrived before the outage")
		}
		time.Sleep(10 * time.Millisecond)
	}
	pgStop(t)
	close(cut)
	time.Sleep(1500 * time.Millisecond) // writes go on, into the spool
	n, _ := a.Backlog()
	t.Logf("PostgreSQL stopped for 1.5s; %d records spooled meanwhile", n)
	if n == 0 {
		t.Error("nothing spooled during the outage: the outage missed the writes")
	}
	pgStart(t)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	waitDrained(t, a, 60*time.Second)
	if rows, keys := countCalls(t, a); rows != total || keys != total {
		t.Fatalf("calls %d (keys %d), want %d once each", rows, keys, total)
	}
}

// TestKillWriterMidReplay runs the replay in a child process, kills it
// (SIGKILL) while it writes, then replays the rest here.
func TestKillWriterMidReplay(t *testing.T) {
	dsn := testDB(t)
	a := openTest(t, dsn, func(c *Config) { c.BatchSize = 200 })
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	const total = 20000
	spoolSynth(t, a, "kill", total, 100)
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperReplayProcess$")
		cmd.Env = append(os.Environ(), "ARCHIVE_HELPER_DSN="+dsn, "ARCHIVE_HELPER_SPOOL="+a.cfg.SpoolDir)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		before, _ := countCalls(t, a)
		deadline := time.Now().Add(30 * time.Second)
		for {
			rows, _ := countCalls(t, a)
			if rows > before+1000 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		rows, _ := countCalls(t, a)
		backlog, _ := a.Backlog()
		t.Logf("round %d: killed with %d rows in, %d spooled", round, rows, backlog)
		if rows == total {
			break
		}
	}
	runArchive(t, a)
	waitDrained(t, a, 60*time.Second)
	if rows, keys := countCalls(t, a); rows != total || keys != total {
		t.Fatalf("calls %d (keys %d), want %d once each", rows, keys, total)
	}
}

// TestHelperReplayProcess is the child of TestKillWriterMidReplay.
func TestHelperReplayProcess(t *testing.T) {
	dsn, dir := os.Getenv("ARCHIVE_HELPER_DSN"), os.Getenv("ARCHIVE_HELPER_SPOOL")
	if dsn == "" {
		t.Skip("helper process only")
	}
	a := openTest(t, dsn, func(c *Config) { c.SpoolDir = dir; c.BatchSize = 200 })
	stop := runArchive(t, a)
	time.Sleep(time.Minute) // killed long before
	stop()
	fmt.Fprintln(os.Stderr, "helper process was not killed")
}
