package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/query"
	"github.com/villedemercier/recpolicy/archive/register"
)

// Store is what the guard needs of the archive; NewArchive returns one.
type Store interface {
	LogAccess(ctx context.Context, e register.AccessEntry) (int64, error)
	ListRecordings(ctx context.Context, f query.RecordingFilter) ([]archive.StoredRecording, error)
	ListCalls(ctx context.Context, f query.CallFilter) ([]query.Call, error)
	FindRecording(ctx context.Context, ref string) (archive.StoredRecording, error)
	RecordingHidden(ctx context.Context, id int64, c query.Confidential) (bool, error)
	RequestCovers(ctx context.Context, id, recording int64) error
}

// Archive is the archive as the guard reads it: its queries, the register
// (does a request cover a recording) and the access log.
type Archive struct {
	q *query.Store
	r *register.Store
}

// NewArchive returns the guard's view of the archive's database.
func NewArchive(s *archive.Store) Archive {
	return Archive{q: query.NewStore(s), r: register.NewStore(s)}
}

// LogAccess appends to the access log.
func (a Archive) LogAccess(ctx context.Context, e register.AccessEntry) (int64, error) {
	return a.r.LogAccess(ctx, e)
}

// ListRecordings lists recordings.
func (a Archive) ListRecordings(ctx context.Context, f query.RecordingFilter) ([]archive.StoredRecording, error) {
	return a.q.ListRecordings(ctx, f)
}

// ListCalls lists call records.
func (a Archive) ListCalls(ctx context.Context, f query.CallFilter) ([]query.Call, error) {
	return a.q.ListCalls(ctx, f)
}

// FindRecording finds a recording by id or path.
func (a Archive) FindRecording(ctx context.Context, ref string) (archive.StoredRecording, error) {
	return a.q.FindRecording(ctx, ref)
}

// RecordingHidden tells whether a recording is hidden by c.
func (a Archive) RecordingHidden(ctx context.Context, id int64, c query.Confidential) (bool, error) {
	return a.q.RecordingHidden(ctx, id, c)
}

// RequestCovers tells whether a granted request names a recording.
func (a Archive) RequestCovers(ctx context.Context, id, recording int64) error {
	return a.r.RequestCovers(ctx, id, recording)
}

// ErrNotLogged wraps a failure to write the access log: the access did
// not happen (nothing is shown that the log cannot hold).
var ErrNotLogged = errors.New("access not logged, so not granted")

// Guard stands between one viewer and the archive: every method decides,
// narrows and logs in one call.
type Guard struct {
	store Store
	v     Viewer
	// hint is added to a log failure: what to check.
	hint string
}

// NewGuard returns the guard of v over store; hint (may be empty) is added
// to the error when the access log cannot be written, e.g. "is the schema
// migrated? recpolicy migrate --config FILE".
func NewGuard(store Store, v Viewer, hint string) *Guard {
	return &Guard{store: store, v: v, hint: hint}
}

// Viewer returns who the guard acts for.
func (g *Guard) Viewer() Viewer { return g.v }

// Audit writes one line of the access log. An access the log cannot hold
// does not happen: callers stop on its error.
func (g *Guard) Audit(ctx context.Context, action, object, purpose string, requestID *int64, outcome string, detail map[string]any) error {
	if g.v.By != "" {
		d := make(map[string]any, len(detail)+1)
		for k, v := range detail {
			d[k] = v
		}
		d["acting_root"] = g.v.By
		detail = d
	}
	if _, err := g.store.LogAccess(ctx, register.AccessEntry{Login: g.v.Login, Role: g.v.Role, Action: action, Object: object,
		RequestID: requestID, Purpose: purpose, Outcome: outcome, Detail: detail}); err != nil {
		if g.hint != "" {
			return fmt.Errorf("%w: %w (nothing was shown; %s)", ErrNotLogged, err, g.hint)
		}
		return fmt.Errorf("%w: %w (nothing was shown)", ErrNotLogged, err)
	}
	return nil
}

// refuse logs a refusal and returns it (with the log's failure, if any).
func (g *Guard) refuse(ctx context.Context, action, object, purpose string, requestID *int64, refusal error) error {
	if err := g.Audit(ctx, action, object, purpose, requestID, register.Refused, map[string]any{"reason": refusal.Error()}); err != nil {
		return errors.Join(refusal, err)
	}
	return refusal
}

// Authorize lets the viewer run action on object: anyone without a role is
// refused, and so is anyone but an administrator when adminOnly. A refusal
// is logged, and so is the grant of an adminOnly action (the others are
// logged with what they show, by the methods below).
func (g *Guard) Authorize(ctx context.Context, action, object string, adminOnly bool) error {
	switch {
	case g.v.Role == RoleNone:
		return g.refuse(ctx, action, object, "", nil, g.v.Denied("no access to recordings or call records"))
	case g.v.Role == RoleReviewer:
		return g.refuse(ctx, action, object, "", nil, g.v.Denied(action+" is not for a Greffe reviewer"))
	case g.v.Role != RoleAdministrator && g.v.Role != RoleDirector && g.v.Role != RoleTrainer:
		return g.refuse(ctx, action, object, "", nil, g.v.Denied("unknown role "+strconv.Quote(g.v.Role)))
	case adminOnly && !g.v.Admin():
		return g.refuse(ctx, action, object, "", nil, g.v.Denied(action+" is for the administrators of the recording system"))
	}
	if adminOnly {
		return g.Audit(ctx, action, object, "", nil, register.Granted, nil)
	}
	return nil
}

// ConsoleHint is what the CLI's refusal tells directors and the Greffe.
const ConsoleHint = "the command line is the administrators' tool on the server; directors and the Greffe use the console (recpolicy console; ask the IT department for its address)"

// AuthorizeTool lets the viewer use the administrators' command-line tool
// at all: an administrator, or root acting as another login (RECPOLICY_AS,
// to see what that person sees). Anyone else, through sudo included, is
// refused (logged) and sent to the console.
func (g *Guard) AuthorizeTool(ctx context.Context, action string) error {
	if g.v.Admin() || g.v.By != "" {
		return nil
	}
	return g.refuse(ctx, action, "", "", nil, &DeniedError{Login: g.v.Login, Reason: action + " is not for " + roleWords(g.v), Hint: ConsoleHint})
}

// roleWords names v's role for a refusal.
func roleWords(v Viewer) string {
	switch {
	case v.Role == RoleDirector:
		return "a director"
	case v.Role == RoleTrainer:
		return "a trainer"
	case v.Reviewer:
		return "a Greffe reviewer"
	}
	return "anyone but the administrators"
}

// AuthorizeRegister lets the viewer read the register of written requests
// (action on object): administrators and the Greffe's reviewers may; the
// grant or the refusal is logged.
func (g *Guard) AuthorizeRegister(ctx context.Context, action, object string) error {
	if !g.v.Admin() && !g.v.Reviewer {
		if g.v.Role == RoleNone {
			return g.refuse(ctx, action, object, "", nil, g.v.Denied("no access to the register of written requests"))
		}
		return g.refuse(ctx, action, object, "", nil, g.v.Denied(action+" is for the administrators and the Greffe's reviewers"))
	}
	return g.Audit(ctx, action, object, "", nil, register.Granted, nil)
}

// Query is what a list asks for, before the guard narrows it.
type Query struct {
	Since, Until time.Time
	// Extensions (with Endpoints, in the same order) select some
	// extensions when ByExtension is set.
	Extensions, Endpoints []string
	ByExtension           bool
	Direction             string
	Trunks                []string // the trunks' endpoints, for Direction on call records
	Number                string
	LinkedID              string       // call records only: those of one call
	MinDuration           float64      // recordings only: at least this many seconds
	After                 query.Cursor // recordings only: the next page after this one
	Limit                 int
}

// narrow restricts q to what the viewer may see and returns the
// confidentiality filter to apply: an administrator's query is left as it
// is; a director's keeps only their own extensions.
func (g *Guard) narrow(q Query) (Query, query.Confidential) {
	if g.v.Admin() {
		return q, query.Confidential{}
	}
	var exts, eps []string
	if q.ByExtension {
		for i, n := range q.Extensions {
			if slices.Contains(g.v.Extensions, n) {
				ep := n
				if i < len(q.Endpoints) {
					ep = q.Endpoints[i]
				}
				exts, eps = append(exts, n), append(eps, ep)
			}
		}
	} else {
		exts, eps = g.v.Extensions, g.v.Endpoints
	}
	q.ByExtension, q.Extensions, q.Endpoints = true, exts, eps
	hidden := g.v.Hidden
	hidden.Directors = true
	return q, hidden
}

// ListRecordings authorises, narrows, lists and logs (with the ids shown)
// the recordings of q. described is the query as the log keeps it.
func (g *Guard) ListRecordings(ctx context.Context, action, described string, q Query) ([]archive.StoredRecording, error) {
	if err := g.Authorize(ctx, action, described, false); err != nil {
		return nil, err
	}
	q, hidden := g.narrow(q)
	recs, err := g.store.ListRecordings(ctx, query.RecordingFilter{
		Since: q.Since, Until: q.Until, Extensions: q.Extensions, ByExtension: q.ByExtension,
		Direction: q.Direction, Number: q.Number, MinDuration: q.MinDuration, After: q.After, Hidden: hidden, Limit: q.Limit,
	})
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	if err := g.Audit(ctx, action, described, "", nil, register.Granted, map[string]any{"rows": len(recs), "recordings": ids}); err != nil {
		return nil, err
	}
	return recs, nil
}

// ListCalls authorises, narrows, lists and logs the call records of q.
func (g *Guard) ListCalls(ctx context.Context, action, described string, q Query) ([]query.Call, error) {
	if err := g.Authorize(ctx, action, described, false); err != nil {
		return nil, err
	}
	q, hidden := g.narrow(q)
	calls, err := g.store.ListCalls(ctx, query.CallFilter{
		Since: q.Since, Until: q.Until, Numbers: q.Extensions, Endpoints: q.Endpoints, ByExtension: q.ByExtension,
		Direction: q.Direction, Trunks: q.Trunks, Number: q.Number, LinkedID: q.LinkedID, Hidden: hidden, Limit: q.Limit,
	})
	if err != nil {
		return nil, err
	}
	if err := g.Audit(ctx, action, described, "", nil, register.Granted, map[string]any{"rows": len(calls)}); err != nil {
		return nil, err
	}
	return calls, nil
}

// Recording hands over one recording (ref: its id or path) for purpose,
// or for the granted written request requestID: an administrator may have
// any (a request only when it names the recording); a director only one of
// their own extensions, never of a call of confidential staff, and never
// for a request (the IT department hands those over). The grant is logged
// before the recording is returned, with detail (e.g. where the copy goes);
// every refusal is logged with its reason.
func (g *Guard) Recording(ctx context.Context, action, ref, purpose string, requestID *int64, detail map[string]any) (archive.StoredRecording, error) {
	if err := g.Authorize(ctx, action, ref, false); err != nil {
		return archive.StoredRecording{}, err
	}
	refuse := func(err error) (archive.StoredRecording, error) {
		return archive.StoredRecording{}, g.refuse(ctx, action, ref, purpose, requestID, err)
	}
	rec, err := g.store.FindRecording(ctx, ref)
	if err != nil {
		return refuse(err)
	}
	if requestID != nil {
		if !g.v.Admin() {
			return refuse(g.v.Denied("copies for a written request are handed over by the IT department, not by a director"))
		}
		if err := g.store.RequestCovers(ctx, *requestID, rec.ID); err != nil {
			return refuse(err)
		}
	}
	if !g.v.Admin() {
		if !slices.Contains(g.v.Extensions, rec.Extension) {
			return refuse(g.v.Denied(fmt.Sprintf("recording %d is of extension %s, outside your department", rec.ID, rec.Extension)))
		}
		hidden := g.v.Hidden
		hidden.Directors = true
		h, err := g.store.RecordingHidden(ctx, rec.ID, hidden)
		if err != nil {
			return refuse(err)
		}
		if h {
			return refuse(g.v.Denied(fmt.Sprintf("recording %d is of a call of staff bound by professional confidentiality, or cannot be tied to its call yet", rec.ID)))
		}
	}
	d := map[string]any{"extension": rec.Extension, "sha256": rec.SHA256}
	for k, v := range detail {
		d[k] = v
	}
	if err := g.Audit(ctx, action, strconv.FormatInt(rec.ID, 10), purpose, requestID, register.Granted, d); err != nil {
		return archive.StoredRecording{}, err
	}
	return rec, nil
}
