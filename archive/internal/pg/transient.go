package pg

import (
	"context"
	"database/sql"
	"errors"
	"net"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// Transient reports whether err is worth retrying as it is: the database
// could not be reached, went away, or is shutting down or overloaded.
// Anything else (a row the database refuses) would fail again.
func Transient(err error) bool {
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
