// Package access decides who may see which recordings and call records
// (the policy's "Accès aux fichiers d'appels"), in one place for every
// front end: the CLI today, the console next.
//
// An Identity is who acts (Current reads it from the process: the
// operating system's login, the sudo caller, or the login a root session
// acts as). Resolve gives it its rights from the daemon config's
// administrators and the rules file's directors: a Viewer with a Role.
// A Guard stands in front of the archive store: each of its methods
// authorises, narrows (a director's departments, the calls of staff bound
// by professional confidentiality, failing closed on what cannot be tied
// to its call) and writes the access log in one call, the log first, so
// that no caller can forget a step. Decisions are pure functions of the
// Viewer and what the Store answers: they are tested without a database,
// and the archive's PostgreSQL tests remain the contract of the Store.
package access
