package console

import (
	"bytes"
	"net/http"
)

// page serves a page's shell to a logged-in visitor; its script fills it
// from the API. Without a session, it sends them to the login page.
func (s *Server) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := s.visitorOf(r)
		if v == nil {
			http.Redirect(w, r, "/connexion", http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		s.render(w, http.StatusOK, name, s.pageData(v, r))
	}
}

// trainingPage serves the redaction page to those who prepare training
// copies; anyone else gets the not-found page.
func (s *Server) trainingPage(w http.ResponseWriter, r *http.Request) {
	v := s.visitorOf(r)
	if v == nil {
		http.Redirect(w, r, "/connexion", http.StatusSeeOther)
		return
	}
	if !v.viewer().MayTrain() {
		s.notFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, http.StatusOK, "training.html", s.pageData(v, r))
}

// notFound is every unknown address's page.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusNotFound, "notfound.html", nil)
}

// render writes a template, or a plain error when it fails.
func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error().Err(err).Str("page", name).Msg("console: page not rendered")
		http.Error(w, "Erreur du serveur.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// adminPage serves a page of the administrators'; anyone else gets the
// not-found page, and the refusal is logged.
func (s *Server) adminPage(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := s.visitorOf(r)
		if v == nil {
			http.Redirect(w, r, "/connexion", http.StatusSeeOther)
			return
		}
		if err := v.guard.Authorize(r.Context(), "console page "+r.URL.Path, "", true); err != nil {
			s.notFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		s.render(w, http.StatusOK, name, s.pageData(v, r))
	}
}
