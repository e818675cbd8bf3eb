package console

import (
	"net/http"
	"strconv"
	"time"

	"github.com/villedemercier/recpolicy/archive/retention"
)

// The administrator's view of retention: the holds (legal holds for
// complaints and litigation) and what the purge will destroy and when.
// Each answer is authorised and logged by the guard first.

// holds answers GET /api/holds[?toutes=1]: the holds, newest first (only
// those not released unless toutes=1).
func (s *Server) holds(v *visitor, r *http.Request) (any, error) {
	all := r.URL.Query().Get("toutes") == "1"
	if err := v.guard.Authorize(r.Context(), "console holds list", r.URL.RawQuery, true); err != nil {
		return nil, err
	}
	hs, err := s.retention.ListHolds(r.Context(), all)
	if err != nil {
		return nil, err
	}
	return map[string]any{"holds": hs}, nil
}

// redactions answers GET /api/formation/caviardages: the redaction log of
// the training copies (what was masked, who confirmed having heard the
// whole call, when, the recording each came from), for the administrators.
func (s *Server) redactions(v *visitor, r *http.Request) (any, error) {
	if err := v.guard.Authorize(r.Context(), "console training redactions", "", true); err != nil {
		return nil, err
	}
	rs, err := s.retention.ListRedactions(r.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{"redactions": rs}, nil
}

// schedule answers GET /api/conservation[?jours=N]: what retention will
// destroy over the next N days (90 by default, 1 to 3660), day by day, and
// the first recordings due.
func (s *Server) schedule(v *visitor, r *http.Request) (any, error) {
	days := 90
	if q := r.URL.Query().Get("jours"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > 3660 {
			return nil, badRequest("« jours » : un nombre de jours de 1 à 3660.")
		}
		days = n
	}
	if err := v.guard.Authorize(r.Context(), "console retention schedule", r.URL.RawQuery, true); err != nil {
		return nil, err
	}
	rl := s.rules()
	sc, err := s.retention.Schedule(r.Context(), retention.ScheduleOptions{Classes: retention.Classes(rl.Retention()),
		Horizon: time.Duration(days) * 24 * time.Hour, Limit: 200, Loc: rl.Location()})
	if err != nil {
		return nil, err
	}
	classes := map[string]float64{}
	for name, d := range rl.Retention() {
		classes[name] = d.Hours() / 24
	}
	spec := rl.Schedules().Retention
	out := map[string]any{"schedule": sc, "classes_days": classes, "purge_schedule": spec}
	if next := rl.NextRun(spec, sc.Now); !next.IsZero() {
		out["next_purge"] = next
	}
	return out, nil
}
