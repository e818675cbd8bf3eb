package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/internal/access"
	"github.com/villedemercier/recpolicy/internal/auth"
)

// cookieName is the session cookie's name.
const cookieName = "recpolicy_session"

// visitor is who a request comes from: a live session, its rights and its
// guard.
type visitor struct {
	idHash string
	guard  *access.Guard
}

func (v *visitor) viewer() access.Viewer { return v.guard.Viewer() }

// newToken returns a session token and the SHA-256 (hex) the database keeps.
func newToken() (token, idHash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token), nil
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// rights are who holds which role, from the daemon config.
func (s *Server) rights() access.Rights {
	return access.Rights{Administrators: s.cfg.Access.Administrators, GreffeReviewers: s.cfg.Access.GreffeReviewers, Trainers: s.cfg.Access.Trainers}
}

// guardFor returns the guard of login, with the roles the directory's
// groups gave them at login (added to the config's lists).
func (s *Server) guardFor(login string, roles []string) *access.Guard {
	rights := s.rights()
	if slices.Contains(roles, auth.RoleAdministrator) {
		rights.Administrators = append(slices.Clone(rights.Administrators), login)
	}
	if slices.Contains(roles, auth.RoleReviewer) {
		rights.GreffeReviewers = append(slices.Clone(rights.GreffeReviewers), login)
	}
	if slices.Contains(roles, auth.RoleTrainer) {
		rights.Trainers = append(slices.Clone(rights.Trainers), login)
	}
	v := access.Resolve(access.Identity{Login: login}, rights, s.rules())
	return access.NewGuard(s.guards, v, "every access is logged first; is the database up and its schema migrated?")
}

// visitorOf returns the request's live session, or nil.
func (s *Server) visitorOf(r *http.Request) *visitor {
	c, err := r.Cookie(cookieName)
	if err != nil || len(c.Value) != 43 {
		return nil
	}
	idHash := hashToken(c.Value)
	se, err := s.accounts.TouchSession(r.Context(), idHash, s.cfg.Console.SessionIdle.Std())
	if err != nil {
		return nil
	}
	return &visitor{idHash: idHash, guard: s.guardFor(se.Login, se.Roles)}
}

func (s *Server) setCookie(w http.ResponseWriter, token string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// client is the request's remote address, without its port.
func client(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if v := s.visitorOf(r); v != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "login.html", map[string]any{"Error": r.URL.Query().Get("erreur") != ""})
}

// login checks the form's login and password and opens a session. Every
// attempt is written to the access log, granted or refused with why.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		s.render(w, http.StatusBadRequest, "login.html", map[string]any{"Message": "Formulaire illisible."})
		return
	}
	login := strings.ToLower(strings.TrimSpace(r.PostForm.Get("identifiant")))
	password := r.PostForm.Get("mot_de_passe")
	if login == "" || password == "" || len(login) > 64 || len(password) > 1024 {
		s.render(w, http.StatusBadRequest, "login.html", map[string]any{"Message": "Donnez votre identifiant et votre mot de passe."})
		return
	}
	o, err := s.auth.Authenticate(r.Context(), client(r), login, password)
	g := s.guardFor(login, o.Roles)
	detail := map[string]any{"client": client(r), "reason": o.Reason, "source": o.Source}
	if len(o.Roles) > 0 {
		detail["directory_roles"] = o.Roles
	}
	if err != nil {
		if aerr := g.Audit(r.Context(), "console login", login, "", nil, register.Refused, detail); aerr != nil {
			s.log.Error().Err(aerr).Msg("console: a refused login could not be logged")
		}
		msg := auth.ErrBadCredentials.Error()
		status := http.StatusUnauthorized
		if errors.Is(err, auth.ErrThrottled) {
			msg, status = auth.ErrThrottled.Error(), http.StatusTooManyRequests
		} else if !errors.Is(err, auth.ErrBadCredentials) {
			s.log.Error().Err(err).Str("login", login).Msg("console: login failed")
			msg, status = "La connexion est impossible pour le moment ; réessayez plus tard.", http.StatusServiceUnavailable
		}
		s.render(w, status, "login.html", map[string]any{"Message": msg})
		return
	}
	token, idHash, err := newToken()
	if err == nil {
		err = s.accounts.CreateSession(r.Context(), idHash, login, o.Source, client(r), o.Roles, s.cfg.Console.SessionMax.Std())
	}
	if err == nil {
		err = g.Audit(r.Context(), "console login", login, "", nil, register.Granted, detail)
	}
	if err != nil {
		s.log.Error().Err(err).Msg("console: session not opened")
		s.render(w, http.StatusServiceUnavailable, "login.html", map[string]any{"Message": "La connexion est impossible pour le moment ; réessayez plus tard."})
		return
	}
	s.setCookie(w, token, int(s.cfg.Console.SessionMax.Std().Seconds()))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		if err := s.accounts.EndSession(r.Context(), hashToken(c.Value)); err != nil {
			s.log.Warn().Err(err).Msg("console: session not ended")
		}
		s.tickets.endSession(hashToken(c.Value))
		s.trainings.endSession(hashToken(c.Value))
	}
	s.setCookie(w, "", -1)
	http.Redirect(w, r, "/connexion", http.StatusSeeOther)
}
