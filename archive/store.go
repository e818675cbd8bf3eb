package archive

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	_ "github.com/lib/pq" // the PostgreSQL driver
)

// Store is the archive's database: its connection pool and its schema.
// The lifecycle packages (ingest, query, retention, register) each build
// their store on it. It is safe for concurrent use.
type Store struct {
	db *sql.DB
}

// Connect returns a Store for a PostgreSQL DSN (a postgres:// URL or
// key=value pairs, as lib/pq reads them). It does not contact the database:
// the first query does.
func Connect(dsn string) (*Store, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, fmt.Errorf("connect to database: %w", ErrNoDSN)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &Store{db: db}, nil
}

// Close closes the database connections.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// DB returns the connection pool, for the archive's own packages (ingest,
// query, retention, register): SQL is written under archive/ only, and a
// test checks that no other package imports database/sql.
func (s *Store) DB() *sql.DB { return s.db }
