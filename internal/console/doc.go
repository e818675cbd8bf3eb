// Package console is `recpolicy console`: the web console through which
// directors, the Greffe and the IT director reach recordings, never
// through sudo. It is HTTP only: who someone is comes from internal/auth
// (local accounts), what they may see from the access guard
// (internal/access), which authorises, narrows and logs every page and API
// call; it writes no SQL.
//
// Pages (French) are thin: a script of this package's own (embedded, no
// CDN, no inline script: the Content-Security-Policy forbids it) reads the
// JSON API under /api/ that the pages use, documented in README. Sessions
// are server-side (archive/accounts), their cookie Secure, HttpOnly and
// SameSite=Strict, with idle and absolute time-outs; cross-site requests
// that change anything are refused (net/http's CrossOriginProtection).
// Before the first byte of a recording is served, the person states the
// purpose (access.Purposes): it is logged first; the audio is then served
// with HTTP Range, for seeking.
package console
