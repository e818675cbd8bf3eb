package archive

import (
	"context"
	"fmt"
	"time"
)

// RuntimeRole is the group role of the logins the daemon and the console
// connect with (migration 00006; README "Database roles").
const RuntimeRole = "recpolicy_runtime"

// RoleReport says who a store connects as and what that login may do to
// the logs that must prove the past.
type RoleReport struct {
	User      string    `json:"user"`
	Superuser bool      `json:"superuser"`
	Runtime   bool      `json:"runtime"`            // a member of recpolicy_runtime
	RoleFound bool      `json:"runtime_role_found"` // recpolicy_runtime exists (the migrations created it)
	OwnsLogs  bool      `json:"owns_logs"`          // owns access_log (could drop its triggers)
	MayAlter  bool      `json:"may_alter_logs"`     // may UPDATE or DELETE access_log rows
	Schema    int64     `json:"schema_version"`
	Latest    int64     `json:"latest_version"`
	DBTime    time.Time `json:"database_time"`
}

// Roles reports on the store's login (recpolicy doctor).
func (s *Store) Roles(ctx context.Context) (RoleReport, error) {
	r := RoleReport{Latest: LatestVersion()}
	err := s.db.QueryRowContext(ctx, `SELECT current_user::text, r.rolsuper, clock_timestamp(),
  EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1),
  EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = $1 AND pg_has_role(current_user, g.oid, 'MEMBER')),
  COALESCE((SELECT t.tableowner = current_user FROM pg_tables t WHERE t.schemaname = 'public' AND t.tablename = 'access_log'), false),
  COALESCE((SELECT has_table_privilege(current_user, c.oid, 'UPDATE') OR has_table_privilege(current_user, c.oid, 'DELETE')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = 'access_log'), false)
FROM pg_roles r WHERE r.rolname = current_user`, RuntimeRole).Scan(&r.User, &r.Superuser, &r.DBTime, &r.RoleFound, &r.Runtime, &r.OwnsLogs, &r.MayAlter)
	if err != nil {
		return r, fmt.Errorf("read the database login's roles: %w", err)
	}
	if r.Schema, err = s.SchemaVersion(ctx); err != nil {
		return r, err
	}
	return r, nil
}
