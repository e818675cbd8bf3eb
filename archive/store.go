package archive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// Store is the database side of the archive: migrations, batch inserts
// and the queries of the CLI. It is safe for concurrent use.
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

// transient reports whether err is worth retrying as it is: the database
// could not be reached, went away, or is shutting down or overloaded.
// Anything else (a row the database refuses) would fail again.
func transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, pq.ErrCouldNotDetectUsername) {
		return true
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code.Class() {
		case "08", // connection exception
			"53", // insufficient resources
			"57", // operator intervention (admin shutdown, cannot connect now)
			"58", // system error
			"40", // transaction rollback (serialization, deadlock)
			"55": // object not in prerequisite state (lock not available)
			return true
		case "42": // undefined table (schema not migrated yet), missing privileges (a GRANT to restore)
			return pqErr.Code == pqerror.Code("42P01") || pqErr.Code == pqerror.Code("42501")
		case "25": // read-only server after a failover (25006)
			return pqErr.Code == pqerror.Code("25006")
		case "28": // authentication: a rotated password, a role being fixed
			return true
		}
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// lib/pq reports a closed connection as driver.ErrBadConn or io errors.
	return true
}
