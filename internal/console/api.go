package console

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/query"
	"github.com/villedemercier/recpolicy/archive/retention"
	"github.com/villedemercier/recpolicy/internal/access"
	"github.com/villedemercier/recpolicy/rules"
)

// apiError is an API answer's error: its status and the words shown.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(msg string) error { return &apiError{http.StatusBadRequest, msg} }

// errNotFound answers a recording that does not exist and one the
// viewer may not see alike.
var errNotFound = &apiError{http.StatusNotFound, "Enregistrement introuvable."}

// api wraps an API handler: a live session is required, the answer is
// JSON, an error becomes {"error": …} with its status (a refusal is a
// 404 for recordings, as if they did not exist, and the guard has logged
// it).
func (s *Server) api(h func(*visitor, *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		v := s.visitorOf(r)
		if v == nil {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Session expirée : reconnectez-vous.", "login": "/connexion"})
			return
		}
		out, err := h(v, r)
		if err != nil {
			var ae *apiError
			switch {
			case errors.As(err, &ae):
			case errors.Is(err, access.ErrAccessDenied):
				ae = &apiError{http.StatusForbidden, "Accès refusé."}
			case errors.Is(err, access.ErrNotLogged):
				s.log.Error().Err(err).Msg("console: access log unavailable")
				ae = &apiError{http.StatusServiceUnavailable, "Le journal des accès est indisponible : rien n'est montré. Réessayez plus tard."}
			default:
				s.log.Error().Err(err).Str("path", r.URL.Path).Msg("console: request failed")
				ae = &apiError{http.StatusInternalServerError, "Erreur du serveur ; réessayez plus tard."}
			}
			writeJSON(w, ae.status, map[string]string{"error": ae.msg})
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// decodeBody reads a JSON body of at most limit bytes into v, or answers
// msg (400).
func decodeBody(r *http.Request, v any, limit int64, msg string) error {
	if err := json.NewDecoder(io.LimitReader(r.Body, limit)).Decode(v); err != nil {
		return badRequest(msg)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	_ = enc.Encode(v)
}

// me answers GET /api/moi: who is logged in, their role and what they may do.
func (s *Server) me(v *visitor, _ *http.Request) (any, error) {
	vw := v.viewer()
	return map[string]any{
		"login": vw.Login, "role": vw.Role, "departments": vw.Departments, "extensions": vw.Extensions,
		"purposes": access.PurposesFor(vw), "may_download": vw.MayDownload(),
	}, nil
}

// recordingJSON is a recording as the API shows it: no path on disk.
type recordingJSON struct {
	ID             int64           `json:"id"`
	File           string          `json:"file"`
	Extension      string          `json:"extension"`
	Departments    []string        `json:"departments"`
	DeptNames      []string        `json:"department_names"`
	Direction      string          `json:"direction"`
	Start          time.Time       `json:"start"`
	End            time.Time       `json:"end,omitzero"`
	Duration       float64         `json:"duration"`
	Size           int64           `json:"size"`
	SHA256         string          `json:"sha256"`
	LinkedID       string          `json:"linkedid"`
	RetentionClass string          `json:"retention_class"`
	DecisionRule   string          `json:"decision_rule,omitempty"`
	DecisionReason string          `json:"decision_reason,omitempty"`
	RulesSHA256    string          `json:"rules_sha256,omitempty"`
	Greeting       string          `json:"greeting,omitempty"`
	Parties        json.RawMessage `json:"parties,omitempty"`
}

// toJSON shows r; its departments are named as the rules in force name
// them (the ids stored with it when the rules no longer list them).
func toJSON(r archive.StoredRecording, rl *rules.Rules) recordingJSON {
	depts := r.Departments
	if e, ok := rl.Extension(r.Extension); ok && len(depts) == 0 {
		depts = e.Departments
	}
	names := make([]string, 0, len(depts))
	for _, id := range depts {
		if d, ok := rl.Department(id); ok {
			names = append(names, d.Name)
		} else {
			names = append(names, id)
		}
	}
	return recordingJSON{DeptNames: names, ID: r.ID, File: filepath.Base(r.Path), Extension: r.Extension, Departments: r.Departments,
		Direction: r.Direction, Start: r.Start, End: r.End, Duration: r.Duration, Size: r.Size, SHA256: r.SHA256,
		LinkedID: r.LinkedID, RetentionClass: r.RetentionClass, DecisionRule: r.DecisionRule, DecisionReason: r.DecisionReason,
		RulesSHA256: r.RulesSHA256, Greeting: r.Greeting, Parties: r.Parties}
}

// callJSON is one call record (a leg of a recording's call) as the
// recording page shows it.
type callJSON struct {
	Start       time.Time  `json:"start"`
	Answer      *time.Time `json:"answer,omitempty"`
	End         time.Time  `json:"end"`
	From        string     `json:"from"`
	To          string     `json:"to"`
	Channel     string     `json:"channel"`
	DestChannel string     `json:"destination_channel"`
	Disposition string     `json:"disposition"`
	Billable    int64      `json:"billable_seconds"`
}

// maxLimit caps a list's rows.
const maxLimit = 1000

// listRecordings answers GET /api/recordings?depuis=&jusqua=&poste=&direction_=&numero=&direction=&limite=.
func (s *Server) listRecordings(v *visitor, r *http.Request) (any, error) {
	rl := s.rules()
	q, described, err := parseList(r, rl.Location())
	if err != nil {
		return nil, err
	}
	var exts []string
	if p := r.URL.Query().Get("poste"); p != "" {
		for _, e := range strings.Split(p, ",") {
			e = strings.TrimSpace(e)
			if n, flag := archive.ClassifyNumber(e); flag != archive.NumberOK || n != e {
				return nil, badRequest("« poste » : donnez des numéros de poste, par exemple 235.")
			}
			exts = append(exts, e)
		}
	}
	if err := access.Select(&q, rl, exts, r.URL.Query().Get("service")); err != nil {
		return nil, badRequest("« service » : ce service n'existe pas.")
	}
	if d := r.URL.Query().Get("duree_min"); d != "" {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 || n > 86400 {
			return nil, badRequest("« durée minimale » : un nombre de secondes, par exemple 30.")
		}
		q.MinDuration = n
	}
	if a := r.URL.Query().Get("apres"); a != "" {
		start, id, ok := strings.Cut(a, "_")
		t, err1 := time.Parse(time.RFC3339Nano, start)
		n, err2 := strconv.ParseInt(id, 10, 64)
		if !ok || err1 != nil || err2 != nil || n <= 0 {
			return nil, badRequest("« après » : la page suivante se demande avec la valeur « next » de la réponse.")
		}
		q.After = query.Cursor{Start: t, ID: n}
	}
	recs, err := v.guard.ListRecordings(r.Context(), "console recordings list", described, q)
	if err != nil {
		return nil, err
	}
	out := make([]recordingJSON, len(recs))
	for i, rec := range recs {
		out[i] = toJSON(rec, rl)
	}
	next := ""
	if len(recs) == q.Limit {
		last := recs[len(recs)-1]
		next = last.Start.UTC().Format(time.RFC3339Nano) + "_" + strconv.FormatInt(last.ID, 10)
	}
	return map[string]any{"recordings": out, "limit": q.Limit, "next": next}, nil
}

// parseDay reads a list's date parameter key (value s, "" for none) as
// midnight in loc, or the next midnight when end (the day is included).
func parseDay(key, s string, end bool, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return t, badRequest("« " + key + " » : une date comme 2026-11-28.")
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// parseLimit reads a list's « limite » (1 to maxLimit), def when absent.
func parseLimit(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, badRequest("« limite » : de 1 à 1000.")
	}
	return n, nil
}

// parseList reads the filters every list shares; described is the query
// as the access log keeps it.
func parseList(r *http.Request, loc *time.Location) (access.Query, string, error) {
	qs := r.URL.Query()
	q := access.Query{Limit: 100}
	var err error
	if q.Since, err = parseDay("depuis", strings.TrimSpace(qs.Get("depuis")), false, loc); err != nil {
		return q, "", err
	}
	if q.Until, err = parseDay("jusqua", strings.TrimSpace(qs.Get("jusqua")), true, loc); err != nil {
		return q, "", err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, "", badRequest("« depuis » doit précéder « jusqu'à ».")
	}
	switch d := qs.Get("direction"); d {
	case "", archive.DirectionInbound, archive.DirectionOutbound, archive.DirectionOther:
		q.Direction = d
	default:
		return q, "", badRequest("« direction » : inbound, outbound ou other.")
	}
	q.Number = strings.TrimSpace(qs.Get("numero"))
	if q.Limit, err = parseLimit(qs.Get("limite"), q.Limit); err != nil {
		return q, "", err
	}
	var parts []string
	for _, k := range []string{"depuis", "jusqua", "poste", "service", "direction", "numero", "duree_min", "apres", "limite"} {
		if v := qs.Get(k); v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	return q, strings.Join(parts, " "), nil
}

// recordingRef is the {id} of a recording's URL, digits only.
func recordingRef(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 {
		return "", errNotFound
	}
	return id, nil
}

// showRecording answers GET /api/recordings/{id}: its facts, no audio.
func (s *Server) showRecording(v *visitor, r *http.Request) (any, error) {
	ref, err := recordingRef(r)
	if err != nil {
		return nil, err
	}
	rec, err := v.guard.Recording(r.Context(), "console recording show", ref, "", nil, nil)
	if err != nil {
		return nil, hideRefusal(err)
	}
	// The call's legs, as the viewer may see call records (narrowed and
	// logged by the guard like any list).
	legs := []callJSON{}
	if rec.LinkedID != "" {
		calls, err := v.guard.ListCalls(r.Context(), "console recording call records", "linkedid="+rec.LinkedID, access.Query{LinkedID: rec.LinkedID, Limit: 50})
		if err != nil {
			return nil, err
		}
		for _, c := range calls {
			legs = append(legs, callJSON{Start: c.Start, Answer: c.Answer, End: c.End, From: c.SourceRaw, To: c.DestinationRaw,
				Channel: c.Channel, DestChannel: c.DestChannel, Disposition: c.Disposition, Billable: c.BillableSeconds})
		}
	}
	// Kept at least until the end of its retention class from the call's end
	// (a hold keeps it longer).
	var keepUntil *time.Time
	if d, ok := s.rules().Retention()[rec.RetentionClass]; ok {
		end := rec.End
		if end.IsZero() {
			end = rec.Start
		}
		k := end.Add(d)
		keepUntil = &k
	}
	// The holds that cover it: a hold in force keeps it past that date.
	hs, err := s.retention.RecordingHolds(r.Context(), rec.ID, retention.Classes(s.rules().Retention()), time.Now())
	if err != nil {
		return nil, err
	}
	holds := make([]holdJSON, 0, len(hs))
	held := false
	for _, h := range hs {
		held = held || h.InForce
		j := holdJSON{ID: h.ID, Kind: h.Kind, CreatedAt: h.CreatedAt, ReleasedAt: h.ReleasedAt, InForce: h.InForce, Class: h.Class}
		if v.viewer().SeesHoldDetails() {
			j.Case, j.Reason, j.CreatedBy = h.Case, h.Reason, h.CreatedBy
		}
		holds = append(holds, j)
	}
	return map[string]any{"recording": toJSON(rec, s.rules()), "legs": legs, "keep_until": keepUntil, "held": held, "holds": holds,
		"purposes": access.PurposesFor(v.viewer()), "may_download": v.viewer().MayDownload(), "may_train": v.viewer().MayTrain()}, nil
}

// holdJSON is a hold as a recording's page shows it; the case, reason and
// author only to those the guard lets see them.
type holdJSON struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"`
	Class      string     `json:"retention_class"`
	CreatedAt  time.Time  `json:"created_at"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
	InForce    bool       `json:"in_force"`
	Case       string     `json:"case,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	CreatedBy  string     `json:"created_by,omitempty"`
}

// hideRefusal makes a recording refused and one missing answer alike.
func hideRefusal(err error) error {
	if errors.Is(err, access.ErrAccessDenied) || errors.Is(err, archive.ErrNotFound) {
		return errNotFound
	}
	return err
}

// listen answers POST /api/recordings/{id}/ecoute {"purpose": code,
// "request": N}: the purpose is logged first, then a ticket to the audio
// is given, valid for this session only.
func (s *Server) listen(v *visitor, r *http.Request) (any, error) {
	ref, err := recordingRef(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		Purpose string `json:"purpose"`
		Request *int64 `json:"request"`
	}
	if err := decodeBody(r, &body, 4<<10, "Indiquez la finalité de l'écoute."); err != nil {
		return nil, err
	}
	rec, p, err := v.guard.Listen(r.Context(), "console listen", ref, body.Purpose, body.Request, map[string]any{"client": client(r)})
	if err != nil {
		// The guard decided and logged; the words only differ: a purpose
		// refused is said, a recording refused answers as one missing.
		if p, ok := access.LookupPurpose(body.Purpose); errors.Is(err, access.ErrAccessDenied) &&
			(!ok || !v.viewer().MayState(p) || (p.Request && body.Request == nil)) {
			return nil, &apiError{http.StatusForbidden, "Cette finalité ne vous est pas permise par la politique (jamais la curiosité) ; une plainte ou un litige passe par une demande écrite accordée."}
		}
		return nil, hideRefusal(err)
	}
	if err := s.verify(rec); err != nil {
		return nil, err
	}
	t := s.tickets.add(v.idHash, ticket{rec: rec, purpose: p.Code}, time.Now())
	return map[string]any{"audio": "/api/recordings/" + ref + "/audio?t=" + t, "purpose": p}, nil
}
