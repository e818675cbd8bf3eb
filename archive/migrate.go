package archive

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrationsFS holds the schema's migrations, embedded in the binary.
//
//go:embed migrations/*.sql
var migrationsFS embed.FS

// versionTable is goose's bookkeeping table.
const versionTable = "recpolicy_schema_version"

// Migrate brings the schema up to date. It is safe to run concurrently
// (the daemon at start and `recpolicy migrate`): a PostgreSQL advisory
// lock serialises the runs, and each migration runs in a transaction.
//
// The migrations are applied with pressly/goose v3 rather than
// golang-migrate: goose's Provider takes our *sql.DB and an fs.FS and keeps
// no global state (no registration in init, no package-level logger to
// set), needs no extra database or source driver packages, runs each SQL
// migration in its own transaction so a failure leaves no "dirty" version
// to force by hand, and has a built-in PostgreSQL session locker.
// It returns the versions applied.
func (s *Store) Migrate(ctx context.Context) ([]int64, error) {
	sub, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, s.db, sub,
		goose.WithTableName(versionTable),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var applied []int64
	for _, r := range res {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// SchemaVersion returns the schema's current version (0 before the first
// migration).
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(max(version_id), 0) FROM `+versionTable+` WHERE is_applied`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// LatestVersion is the version of the newest migration this binary holds:
// what SchemaVersion reads once Migrate has run.
func LatestVersion() int64 {
	entries, _ := fs.ReadDir(migrationsFS, "migrations")
	var v int64
	for _, e := range entries {
		var n int64
		if _, err := fmt.Sscanf(e.Name(), "%d_", &n); err == nil && n > v {
			v = n
		}
	}
	return v
}
