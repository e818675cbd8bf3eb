package main

import (
	"context"

	"github.com/villedemercier/recpolicy/internal/access"
)

// Who runs an archive command, and what they may see, is decided by
// internal/access: the identity (access.Current: the login, the sudo
// caller, or the login a root session acts as with RECPOLICY_AS), its
// rights (access.Resolve) and the guard that authorises, narrows and logs
// every access in one call. Commands only ask the guard.

// asEnv is the variable a root session sets to act as another login.
const asEnv = access.AsEnv

// guardFor builds the guard of the process's identity over env's store.
func (env *archiveEnv) guardFor() *access.Guard {
	v := access.Resolve(access.Current(), access.Rights{Administrators: env.cfg.Access.Administrators, GreffeReviewers: env.cfg.Access.GreffeReviewers}, env.rules)
	return access.NewGuard(access.NewArchive(env.store), v, "every access is logged first; is the schema migrated? recpolicy migrate --config "+env.cfg.Path)
}

// authorize resolves who runs the command: the command line is the
// administrators' tool (access.Guard.AuthorizeTool), then the action's own
// rule (access.Guard.Authorize).
func (env *archiveEnv) authorize(ctx context.Context, action, object string, adminOnly bool) error {
	if err := env.tool(ctx, action); err != nil {
		return err
	}
	return env.guard.Authorize(ctx, action, object, adminOnly)
}

// tool sets env's guard and lets only the administrators (or root acting
// as someone) use the command line (access.Guard.AuthorizeTool).
func (env *archiveEnv) tool(ctx context.Context, action string) error {
	env.guard = env.guardFor()
	return env.guard.AuthorizeTool(ctx, action)
}

// audit writes one line of the access log (see access.Guard.Audit).
func (env *archiveEnv) audit(ctx context.Context, action, object, purpose string, requestID *int64, outcome string, detail map[string]any) error {
	return env.guard.Audit(ctx, action, object, purpose, requestID, outcome, detail)
}

// login is who runs the command, as the logs name them.
func (env *archiveEnv) login() string { return env.guard.Viewer().Login }
