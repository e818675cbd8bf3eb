package console

import (
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/internal/access"
)

// The register of written requests in the console: the IT department and
// the Greffe's reviewers read it; the IT department registers requests;
// each side gives its opinion, and a request is decided when both agree
// (register.GiveOpinion). The guard authorises and logs each step.

// requestID is the {id} of a request's URL.
func requestID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, &apiError{http.StatusNotFound, "Demande introuvable."}
	}
	return id, nil
}

// registerError words the register's refusals.
func registerError(err error) error {
	switch {
	case errors.Is(err, archive.ErrNotFound):
		return &apiError{http.StatusNotFound, "Demande introuvable."}
	case errors.Is(err, register.ErrSamePerson):
		return &apiError{http.StatusConflict, "Une même personne ne peut donner l'avis des deux côtés : la demande est décidée par deux personnes distinctes."}
	case errors.Is(err, register.ErrRequestState):
		return &apiError{http.StatusConflict, "La demande n'est plus à décider."}
	case errors.Is(err, register.ErrBadRequest):
		return &apiError{http.StatusBadRequest, "Renseignements incomplets : " + err.Error()}
	}
	return err
}

// listRequests answers GET /api/requests[?ouvertes=1].
func (s *Server) listRequests(v *visitor, r *http.Request) (any, error) {
	open := r.URL.Query().Get("ouvertes") == "1"
	if err := v.guard.AuthorizeRegister(r.Context(), "console requests list", r.URL.RawQuery); err != nil {
		return nil, err
	}
	reqs, err := s.register.ListRequests(r.Context(), open)
	if err != nil {
		return nil, err
	}
	if reqs == nil {
		reqs = []register.AccessRequest{}
	}
	side, _ := v.viewer().RegisterSide()
	return map[string]any{"requests": reqs, "side": side, "may_register": v.viewer().Admin()}, nil
}

// showRequest answers GET /api/requests/{id}: the request, its opinions
// and what left for it.
func (s *Server) showRequest(v *visitor, r *http.Request) (any, error) {
	id, err := requestID(r)
	if err != nil {
		return nil, err
	}
	if err := v.guard.AuthorizeRegister(r.Context(), "console request show", strconv.FormatInt(id, 10)); err != nil {
		return nil, err
	}
	req, err := s.register.GetRequest(r.Context(), id)
	if err != nil {
		return nil, registerError(err)
	}
	ops, err := s.register.Opinions(r.Context(), id)
	if err != nil {
		return nil, err
	}
	ts, err := s.register.ListTransmissions(r.Context(), register.TransmissionFilter{RequestID: id})
	if err != nil {
		return nil, err
	}
	side, _ := v.viewer().RegisterSide()
	return map[string]any{"request": req, "opinions": ops, "transmissions": ts, "side": side,
		"may_give_opinion": side != "" && req.Status == register.RequestReceived, "may_fulfil": v.viewer().Admin()}, nil
}

// giveOpinion answers POST /api/requests/{id}/avis {"grant": bool, "note": "…"}.
func (s *Server) giveOpinion(v *visitor, r *http.Request) (any, error) {
	id, err := requestID(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		Grant *bool  `json:"grant"`
		Note  string `json:"note"`
	}
	const need = "Donnez votre avis (accorder ou refuser) et ses motifs."
	if err := decodeBody(r, &body, 16<<10, need); err != nil {
		return nil, err
	}
	if body.Grant == nil || strings.TrimSpace(body.Note) == "" {
		return nil, badRequest(need)
	}
	side, ok := v.viewer().RegisterSide()
	if err := v.guard.AuthorizeRegister(r.Context(), "console request opinion", strconv.FormatInt(id, 10)); err != nil {
		return nil, err
	}
	if !ok {
		return nil, &apiError{http.StatusForbidden, "Seuls la Direction des TI et le Greffe donnent un avis."}
	}
	req, err := s.register.GiveOpinion(r.Context(), id, side, v.viewer().Login, *body.Grant, body.Note)
	if err != nil {
		return nil, registerError(err)
	}
	return map[string]any{"request": req}, nil
}

// addRequest answers POST /api/requests: the IT department registers a
// written request.
func (s *Server) addRequest(v *visitor, r *http.Request) (any, error) {
	var body struct {
		ReceivedOn string  `json:"received_on"`
		Channel    string  `json:"channel"`
		Requester  string  `json:"requester"`
		Purpose    string  `json:"purpose"`
		Subject    string  `json:"subject"`
		Recordings []int64 `json:"recordings"`
	}
	if err := decodeBody(r, &body, 64<<10, "Formulaire illisible."); err != nil {
		return nil, err
	}
	if err := v.guard.Authorize(r.Context(), "console request add", body.Requester, true); err != nil {
		return nil, err
	}
	received, err := time.ParseInLocation(time.DateOnly, body.ReceivedOn, s.rules().Location())
	if err != nil {
		return nil, badRequest("« reçue le » : une date comme 2026-11-28.")
	}
	req, err := s.register.AddRequest(r.Context(), register.AccessRequest{ReceivedOn: received, Channel: body.Channel, Requester: body.Requester,
		Purpose: body.Purpose, Subject: body.Subject, Recordings: body.Recordings, RegisteredBy: v.viewer().Login})
	if err != nil {
		return nil, registerError(err)
	}
	return map[string]any{"request": req}, nil
}

// registerPage serves the register's pages to those who may read it.
func (s *Server) registerPage(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := s.visitorOf(r)
		if v == nil {
			http.Redirect(w, r, "/connexion", http.StatusSeeOther)
			return
		}
		if _, ok := v.viewer().RegisterSide(); !ok {
			_ = v.guard.AuthorizeRegister(r.Context(), "console register page", r.URL.Path) // logs the refusal
			s.notFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		s.render(w, http.StatusOK, name, s.pageData(v, r))
	}
}

// pageData is what every page's bar shows, and the answer's style nonce.
func (s *Server) pageData(v *visitor, r *http.Request) map[string]any {
	vw := v.viewer()
	_, reg := vw.RegisterSide()
	return map[string]any{"Login": vw.Login, "Role": vw.Role, "Register": reg, "Nonce": nonceOf(r), "Admin": vw.Admin(),
		"Records": vw.Role == access.RoleAdministrator || vw.Role == access.RoleDirector || vw.Role == access.RoleTrainer}
}

// exportRegister answers GET /api/requests.csv: the register as CSV (UTF-8,
// one request a row, its opinions and transmissions counted), for the IT
// department and the Greffe.
func (s *Server) exportRegister(w http.ResponseWriter, r *http.Request) {
	v := s.visitorOf(r)
	if v == nil {
		http.Error(w, "Session expirée : reconnectez-vous.", http.StatusUnauthorized)
		return
	}
	if err := v.guard.AuthorizeRegister(r.Context(), "console register export", "csv"); err != nil {
		http.Error(w, "Accès refusé.", http.StatusForbidden)
		return
	}
	reqs, err := s.register.ListRequests(r.Context(), false)
	if err != nil {
		s.log.Error().Err(err).Msg("console: register not exported")
		http.Error(w, "Erreur du serveur ; réessayez plus tard.", http.StatusInternalServerError)
		return
	}
	loc := s.rules().Location()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="registre-des-demandes.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write([]string{"numero", "recue_le", "recue_par", "demandeur", "motif", "objet", "enregistrements", "inscrite_le", "inscrite_par",
		"etat", "decidee_le", "decidee_par_ti", "greffe", "motifs", "fermee_le", "fermee_par", "note_de_fermeture", "copies_transmises", "copies_non_detruites"})
	stamp := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.In(loc).Format("2006-01-02 15:04")
	}
	for _, q := range reqs {
		ts, err := s.register.ListTransmissions(r.Context(), register.TransmissionFilter{RequestID: q.ID})
		if err != nil {
			s.log.Error().Err(err).Msg("console: register export cut short")
			break
		}
		outstanding := 0
		for _, t := range ts {
			if t.Outstanding() {
				outstanding++
			}
		}
		recs := make([]string, len(q.Recordings))
		for i, id := range q.Recordings {
			recs[i] = strconv.FormatInt(id, 10)
		}
		registered := q.RegisteredAt
		cw.Write([]string{strconv.FormatInt(q.ID, 10), q.ReceivedOn.Format(time.DateOnly), q.Channel, csvSafe(q.Requester), q.Purpose, csvSafe(q.Subject),
			strings.Join(recs, " "), stamp(&registered), q.RegisteredBy, q.Status, stamp(q.DecidedAt), q.DecidedBy, q.GreffeReviewer,
			csvSafe(q.DecisionNote), stamp(q.ClosedAt), q.ClosedBy, csvSafe(q.CloseNote), strconv.Itoa(len(ts)), strconv.Itoa(outstanding)})
	}
	cw.Flush()
}

// csvSafe keeps a spreadsheet from taking a cell for a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// accessLog answers GET /api/access-log?login=&depuis=&jusqua=&limite=: the
// access log, newest first, for the administrators; with whether its hash
// chain holds.
func (s *Server) accessLog(v *visitor, r *http.Request) (any, error) {
	qs := r.URL.Query()
	if err := v.guard.Authorize(r.Context(), "console access log", r.URL.RawQuery, true); err != nil {
		return nil, err
	}
	loc := s.rules().Location()
	f := register.AccessLogFilter{Login: strings.TrimSpace(qs.Get("login")), Limit: 200}
	var err error
	if f.Since, err = parseDay("depuis", qs.Get("depuis"), false, loc); err != nil {
		return nil, err
	}
	if f.Until, err = parseDay("jusqua", qs.Get("jusqua"), true, loc); err != nil {
		return nil, err
	}
	if f.Limit, err = parseLimit(qs.Get("limite"), f.Limit); err != nil {
		return nil, err
	}
	entries, err := s.register.AccessLog(r.Context(), f)
	if err != nil {
		return nil, err
	}
	if entries == nil {
		entries = []register.AccessEntry{}
	}
	rep, err := s.register.VerifyAccessLog(r.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{"entries": entries, "chain": rep}, nil
}
