// Package pgtest gives the tests that need PostgreSQL a throwaway database in the
// sandbox PostgreSQL, and stops and starts that server for the outage
// tests. It is imported by tests only.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"
)

const defaultTestDSN = "postgres://postgres@127.0.0.1:55432/recpolicy?sslmode=disable"

// Sandbox PostgreSQL control, for the outage tests.
const pgBin = "/usr/lib/postgresql/15/bin"

// StateDir is where docker/sandbox keeps PostgreSQL ($RECPOLICY_STATE).
func StateDir() string {
	if v := os.Getenv("RECPOLICY_STATE"); v != "" {
		return v
	}
	return "/var/tmp/recpolicy-sandbox"
}

// AdminDSN is the sandbox PostgreSQL's address (RECPOLICY_PG_DSN or the
// sandbox default).
func AdminDSN() string {
	if v := os.Getenv("RECPOLICY_PG_DSN"); v != "" {
		return v
	}
	return defaultTestDSN
}

// WithDatabase returns dsn naming another database.
func WithDatabase(t testing.TB, dsn, name string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		t.Fatalf("RECPOLICY_PG_DSN must be a postgres:// URL: %q", dsn)
	}
	u.Path = "/" + name
	return u.String()
}

// DB creates a fresh database for one test and drops it at the end.
// PostgreSQL must be up: the test fails, never skips, when it is not.
func DB(t testing.TB) string {
	t.Helper()
	admin, err := sql.Open("postgres", AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		t.Fatalf("PostgreSQL is not reachable at %s (%v): start it with docker/sandbox up", AdminDSN(), err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "recpolicy_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		Start(t) // in case a test left it stopped
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return WithDatabase(t, AdminDSN(), name)
}

func pgCtl(t testing.TB, args ...string) error {
	t.Helper()
	full := append([]string{"-u", "postgres", "--", filepath.Join(pgBin, "pg_ctl"), "-D", filepath.Join(StateDir(), "pgdata")}, args...)
	out, err := exec.Command("runuser", full...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Stop stops the sandbox PostgreSQL (fast shutdown: sessions are cut).
// It registers a restart at the end of the test.
func Stop(t testing.TB) {
	t.Helper()
	t.Cleanup(func() { Start(t) })
	if err := pgCtl(t, "-m", "fast", "-w", "stop"); err != nil {
		t.Fatal(err)
	}
}

// Start starts the sandbox PostgreSQL when it is not running.
func Start(t testing.TB) {
	t.Helper()
	if pgCtl(t, "status") == nil {
		return
	}
	err := pgCtl(t, "-l", filepath.Join(StateDir(), "postgresql.log"),
		"-o", "-p 55432 -k "+filepath.Join(StateDir(), "pgrun")+" -c listen_addresses=127.0.0.1", "-w", "start")
	if err != nil {
		t.Errorf("restart the sandbox PostgreSQL: %v (run docker/sandbox up)", err)
	}
}
