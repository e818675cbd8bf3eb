package archive_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"testing"

	"github.com/lib/pq"
	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/internal/pgtest"
)

// TestRuntimeRole: a login of recpolicy_runtime (what the daemon and the
// console connect with) writes the logs but cannot rewrite them, nor turn
// their triggers off; a destruction turns done only through
// destruction_log_finish; with the schema current, its Migrate applies
// nothing and succeeds.
func TestRuntimeRole(t *testing.T) {
	dsn := pgtest.DB(t)
	owner, err := archive.Connect(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { owner.Close() }) // after the role is dropped (cleanups run last first)
	if _, err := owner.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	login := "recpolicy_test_app_" + hex.EncodeToString(b)
	if _, err := owner.DB().Exec(`CREATE ROLE ` + login + ` LOGIN PASSWORD 'x' IN ROLE recpolicy_runtime`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := owner.DB().Exec(`DROP ROLE IF EXISTS ` + login); err != nil {
			t.Errorf("drop role %s: %v", login, err)
		}
	})
	u, _ := url.Parse(dsn)
	u.User = url.UserPassword(login, "x")
	app, err := archive.Connect(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()

	if _, err := app.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate with the schema current, as the runtime role: %v", err)
	}
	reg := register.NewStore(app)
	if _, err := reg.LogAccess(t.Context(), register.AccessEntry{Login: "dupont", Role: register.RoleDirector, Action: "recordings list", Outcome: register.Granted}); err != nil {
		t.Fatalf("log access as the runtime role: %v", err)
	}
	if rep, err := reg.VerifyAccessLog(t.Context()); err != nil || !rep.OK() || rep.Rows != 1 {
		t.Fatalf("verify as the runtime role: %+v %v", rep, err)
	}
	var logID int64
	if err := app.DB().QueryRow(`INSERT INTO destruction_log (kind, object_id, reason, actor, actor_kind, state)
VALUES ('recording', 1, 'retention over', 'retention', 'job', 'pending') RETURNING id`).Scan(&logID); err != nil {
		t.Fatalf("log a pending destruction as the runtime role: %v", err)
	}
	var changed bool
	if err := app.DB().QueryRow(`SELECT destruction_log_finish($1, 'done', 'file removed')`, logID).Scan(&changed); err != nil || !changed {
		t.Fatalf("finish a destruction as the runtime role: %v %v", changed, err)
	}
	if err := app.DB().QueryRow(`SELECT destruction_log_finish($1, 'failed', 'again')`, logID).Scan(&changed); err != nil || changed {
		t.Fatalf("finish a done destruction again: %v %v, want false", changed, err)
	}
	for _, q := range []string{
		`UPDATE access_log SET purpose = 'x'`,
		`DELETE FROM access_log`,
		`TRUNCATE access_log`,
		`UPDATE destruction_log SET note = 'x'`,
		`DELETE FROM destruction_log`,
		`DELETE FROM access_request_recordings`,
		`UPDATE integrity_runs SET checked = 0`,
		`DELETE FROM integrity_runs`,
		`TRUNCATE integrity_runs`,
		`UPDATE training_redactions SET fill = 'silence'`,
		`DELETE FROM training_redactions`,
		`ALTER TABLE access_log DISABLE TRIGGER USER`,
		`DROP TRIGGER access_log_no_change ON access_log`,
		`CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
		`CREATE TABLE sneaky (x int)`,
	} {
		_, err := app.DB().Exec(q)
		var pqErr *pq.Error
		if !errors.As(err, &pqErr) || (pqErr.Code != "42501" && pqErr.Code.Name() != "insufficient_privilege") {
			t.Errorf("%s as the runtime role: %v, want refused (insufficient privilege)", q, err)
		}
	}
}
