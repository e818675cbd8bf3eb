package console

import (
	"encoding/json"
	"errors"
	"io"
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
		"may_give_opinion": side != "" && req.Status == register.RequestReceived}, nil
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
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&body); err != nil || body.Grant == nil || strings.TrimSpace(body.Note) == "" {
		return nil, badRequest("Donnez votre avis (accorder ou refuser) et ses motifs.")
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
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil {
		return nil, badRequest("Formulaire illisible.")
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
	return map[string]any{"Login": vw.Login, "Role": vw.Role, "Register": reg, "Nonce": nonceOf(r),
		"Records": vw.Role == access.RoleAdministrator || vw.Role == access.RoleDirector}
}
