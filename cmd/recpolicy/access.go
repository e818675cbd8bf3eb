package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strings"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/rules"
)

// Who runs an archive command, and what they may see (the policy's
// "Accès aux fichiers d'appels").
//
// The login is the operating system's: under sudo, the user who ran sudo
// (SUDO_USER), so that directors can be given `sudo recpolicy` without
// reading the database secret themselves. A root session (not through sudo)
// may act as another login with RECPOLICY_AS=LOGIN, to check what a
// director sees; the access log then names both.

// asEnv is the variable a root session sets to act as another login.
const asEnv = "RECPOLICY_AS"

// identity is who runs the command: login, and by when root acts as login.
type identity struct{ login, by string }

func currentIdentity() identity {
	real := ""
	if u, err := user.Current(); err == nil {
		real = u.Username
	}
	if os.Geteuid() == 0 {
		if su := os.Getenv("SUDO_USER"); su != "" {
			return identity{login: su}
		}
		if as := strings.TrimSpace(os.Getenv(asEnv)); as != "" {
			return identity{login: as, by: real}
		}
	}
	if real == "" {
		real = "unknown"
	}
	return identity{login: real}
}

// viewer is an identity with its rights.
type viewer struct {
	identity
	role        string   // archive.RoleAdministrator, RoleDirector or RoleNone
	departments []string // a director's departments
	extensions  []string // a director's extensions (confidential ones excluded)
	endpoints   []string // their PJSIP endpoints
	hidden      archive.Confidential
}

// resolveViewer gives login its rights: an administrator of the daemon
// config sees everything; a director (director_user of a department in
// the rules) the extensions of their departments, never the calls of a
// confidential extension; anyone else nothing.
func resolveViewer(id identity, admins []string, r *rules.Rules) viewer {
	v := viewer{identity: id, role: archive.RoleNone}
	if slices.Contains(admins, id.login) {
		v.role = archive.RoleAdministrator
		return v
	}
	if r == nil {
		return v
	}
	for _, d := range r.Departments() {
		if d.DirectorUser != "" && d.DirectorUser == id.login {
			v.departments = append(v.departments, d.ID)
		}
	}
	if len(v.departments) == 0 {
		return v
	}
	v.role = archive.RoleDirector
	v.hidden.Directors = true
	for _, n := range r.DirectorExtensions(id.login) {
		v.extensions = append(v.extensions, n)
		v.endpoints = append(v.endpoints, endpointOf(r, n))
	}
	for _, e := range r.Extensions() {
		if e.Confidential {
			v.hidden.Numbers = append(v.hidden.Numbers, e.Number)
			v.hidden.Endpoints = append(v.hidden.Endpoints, e.Endpoint)
		}
	}
	return v
}

func (v viewer) admin() bool { return v.role == archive.RoleAdministrator }

// denied is the error for an access v may not have.
func (v viewer) denied(reason string) error {
	hint := ""
	switch v.role {
	case archive.RoleNone:
		hint = "only the administrators of the daemon config (access.administrators) and the directors named in the rules file (director_user) have access; ask the IT director"
	case archive.RoleDirector:
		hint = "a director sees the extensions of their own department, never those of staff bound by professional confidentiality; other access goes through a written request (recpolicy requests)"
	}
	return &archive.DeniedError{Login: v.login, Reason: reason, Hint: hint}
}

// audit writes one line of the access log for v. An access that cannot be
// logged does not happen: callers stop on its error.
func (env *archiveEnv) audit(ctx context.Context, action, object, purpose string, requestID *int64, outcome string, detail map[string]any) error {
	v := env.viewer
	if v.by != "" {
		if detail == nil {
			detail = map[string]any{}
		}
		detail["acting_root"] = v.by
	}
	if _, err := env.store.LogAccess(ctx, archive.AccessEntry{Login: v.login, Role: v.role, Action: action, Object: object,
		RequestID: requestID, Purpose: purpose, Outcome: outcome, Detail: detail}); err != nil {
		return fmt.Errorf("%w (nothing was shown: every access is logged first; is the schema migrated? recpolicy migrate --config %s)", err, env.cfg.Path)
	}
	return nil
}

// authorize resolves who runs the command; adminOnly commands are refused
// to anyone but an administrator. Refusals are logged; so is the grant of
// an adminOnly command (other commands log their access themselves, with
// what they showed).
func (env *archiveEnv) authorize(ctx context.Context, action, object string, adminOnly bool) error {
	env.viewer = resolveViewer(currentIdentity(), env.cfg.Access.Administrators, env.rules)
	var refusal error
	switch {
	case env.viewer.role == archive.RoleNone:
		refusal = env.viewer.denied("no access to recordings or call records")
	case adminOnly && !env.viewer.admin():
		refusal = env.viewer.denied(action + " is for the administrators of the recording system")
	}
	if refusal != nil {
		if err := env.audit(ctx, action, object, "", nil, archive.Refused, map[string]any{"reason": refusal.Error()}); err != nil {
			return errors.Join(refusal, err)
		}
		return refusal
	}
	if adminOnly {
		return env.audit(ctx, action, object, "", nil, archive.Granted, nil)
	}
	return nil
}
