package console

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/accounts"
	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/archive/retention"
	"github.com/villedemercier/recpolicy/internal/access"
	"github.com/villedemercier/recpolicy/internal/auth"
	"github.com/villedemercier/recpolicy/internal/config"
	"github.com/villedemercier/recpolicy/internal/transmit"
	"github.com/villedemercier/recpolicy/rules"
)

//go:embed assets
var assets embed.FS

// Authenticator checks a login and password for a client; *auth.Local is
// one.
type Authenticator interface {
	Authenticate(ctx context.Context, client, login, password string) (auth.Outcome, error)
}

// Options are what a console is built from.
type Options struct {
	Config *config.Config
	Store  *archive.Store
	Rules  func() *rules.Rules
	Auth   Authenticator
	Log    zerolog.Logger
}

// Server is the console's HTTP side.
type Server struct {
	cfg       *config.Config
	store     *archive.Store
	guards    access.Archive
	accounts  *accounts.Store
	register  *register.Store
	retention *retention.Store
	rules     func() *rules.Rules
	auth      Authenticator
	log       zerolog.Logger
	pages     *template.Template
	static    http.Handler
	tickets   *tickets
	trainings *trainings
	packages  *packages
	// signingKey signs transmission packages (archive.signing_key); nil
	// when the config names none.
	signingKey ed25519.PrivateKey
}

// New builds a console; it does not listen.
func New(o Options) (*Server, error) {
	if o.Config == nil || o.Store == nil || o.Rules == nil || o.Auth == nil {
		return nil, errors.New("new console: config, store, rules and authenticator are required")
	}
	pages, err := template.New("").Funcs(template.FuncMap{}).ParseFS(assets, "assets/templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("new console: templates: %w", err)
	}
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		return nil, fmt.Errorf("new console: static files: %w", err)
	}
	var key ed25519.PrivateKey
	if kf := o.Config.SigningKeyFile(); kf != "" {
		if key, err = transmit.LoadKey(kf); err != nil {
			return nil, fmt.Errorf("new console: %w", err)
		}
	}
	return &Server{
		cfg: o.Config, store: o.Store, guards: access.NewArchive(o.Store), accounts: accounts.NewStore(o.Store), register: register.NewStore(o.Store),
		retention: retention.NewStore(o.Store),
		rules:     o.Rules, auth: o.Auth, log: o.Log, pages: pages,
		static: http.StripPrefix("/static/", http.FileServerFS(static)), tickets: newTickets(), trainings: newTrainings(),
		packages: newPackages(), signingKey: key,
	}, nil
}

// Handler returns the console's routes behind its protections (security
// headers, cross-origin refusal).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", s.static)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		to := "/enregistrements"
		if v := s.visitorOf(r); v != nil {
			if d := s.pageData(v, r); d["Records"] == false && d["Register"] == true {
				to = "/registre" // a Greffe reviewer's page
			}
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	})
	mux.HandleFunc("GET /connexion", s.loginPage)
	mux.HandleFunc("POST /connexion", s.login)
	mux.HandleFunc("POST /deconnexion", s.logout)
	mux.HandleFunc("GET /enregistrements", s.page("recordings.html"))
	mux.HandleFunc("GET /enregistrements/{id}", s.page("recording.html"))
	mux.HandleFunc("GET /api/moi", s.api(s.me))
	mux.HandleFunc("GET /api/recordings", s.api(s.listRecordings))
	mux.HandleFunc("GET /api/recordings/{id}", s.api(s.showRecording))
	mux.HandleFunc("POST /api/recordings/{id}/ecoute", s.api(s.listen))
	mux.HandleFunc("GET /api/recordings/{id}/audio", s.audio)
	mux.HandleFunc("GET /formation/{id}", s.trainingPage)
	mux.HandleFunc("POST /api/recordings/{id}/formation", s.api(s.openTraining))
	mux.HandleFunc("POST /api/formation/{tid}/ecoute", s.api(s.heard))
	mux.HandleFunc("POST /api/formation/{tid}/apercu", s.preview)
	mux.HandleFunc("POST /api/formation/{tid}/copie", s.api(s.produce))
	mux.HandleFunc("GET /api/formation/caviardages", s.api(s.redactions))
	mux.HandleFunc("GET /registre", s.registerPage("register.html"))
	mux.HandleFunc("GET /registre/{id}", s.registerPage("request.html"))
	mux.HandleFunc("GET /api/requests", s.api(s.listRequests))
	mux.HandleFunc("GET /api/requests.csv", s.exportRegister)
	mux.HandleFunc("GET /api/access-log", s.api(s.accessLog))
	mux.HandleFunc("GET /journal", s.adminPage("accesslog.html"))
	mux.HandleFunc("POST /api/requests", s.api(s.addRequest))
	mux.HandleFunc("GET /api/requests/{id}", s.api(s.showRequest))
	mux.HandleFunc("POST /api/requests/{id}/avis", s.api(s.giveOpinion))
	mux.HandleFunc("GET /conservation", s.adminPage("retention.html"))
	mux.HandleFunc("GET /rapport", s.compliance)
	mux.HandleFunc("GET /api/holds", s.api(s.holds))
	mux.HandleFunc("GET /api/conservation", s.api(s.schedule))
	mux.HandleFunc("POST /api/requests/{id}/paquet", s.api(s.makePackage))
	mux.HandleFunc("GET /api/transmissions/{id}/paquet", s.downloadPackage)
	mux.HandleFunc("POST /api/requests/{id}/destruction", s.api(s.confirmDestruction))
	mux.HandleFunc("POST /api/requests/{id}/fermeture", s.api(s.closeRequest))
	mux.HandleFunc("/", s.notFound)
	cop := http.NewCrossOriginProtection()
	return secureHeaders(cop.Handler(mux))
}

// nonceKey carries the answer's style nonce in its request's context.
type nonceKey struct{}

// nonceOf is the style nonce of r's answer (see secureHeaders).
func nonceOf(r *http.Request) string {
	n, _ := r.Context().Value(nonceKey{}).(string)
	return n
}

// secureHeaders adds the headers every answer carries. Scripts come from
// the console itself only, never inline; styles too, but for the one
// <style> the waveform player puts in its shadow DOM, allowed by a nonce
// drawn for each answer.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 16)
		rand.Read(b)
		nonce := base64.StdEncoding.EncodeToString(b)
		r = r.WithContext(context.WithValue(r.Context(), nonceKey{}, nonce))
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-"+nonce+"'; img-src 'self' data:; media-src 'self' blob:; "+
			"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// Run serves the console on the config's address (HTTPS when it has a
// certificate) until ctx ends, then shuts down within 10 s. It also owns
// the goroutine that prunes expired sessions and tickets.
func (s *Server) Run(ctx context.Context) error {
	c := s.cfg.Console
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("console: listen on %s: %w (console.listen)", c.Listen, err)
	}
	srv := &http.Server{
		Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: nil, MaxHeaderBytes: 64 << 10,
	}
	if c.TLS() {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKeyFile())
		if err != nil {
			ln.Close()
			return fmt.Errorf("console: load console.tls_cert and console.tls_key: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.prune(ctx)
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	scheme := "http"
	if c.TLS() {
		scheme = "https"
	}
	s.log.Info().Str("url", scheme+"://"+ln.Addr().String()+"/").Msg("console listening")
	select {
	case err = <-errc:
		cancel()
	case <-ctx.Done():
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = srv.Shutdown(sctx)
		scancel()
		<-errc
	}
	wg.Wait()
	s.packages.removeAll()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// prune removes expired sessions and tickets every minute.
func (s *Server) prune(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if n, err := s.accounts.PruneSessions(pctx, s.cfg.Console.SessionIdle.Std()); err != nil {
				s.log.Warn().Err(err).Msg("console: expired sessions not pruned")
			} else if n > 0 {
				s.log.Debug().Int64("sessions", n).Msg("console: expired sessions pruned")
			}
			cancel()
			s.tickets.prune(time.Now())
			s.trainings.prune(time.Now())
			s.packages.prune(time.Now())
		}
	}
}
