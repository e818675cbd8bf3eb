package console

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/query"
	"github.com/villedemercier/recpolicy/archive/register"
)

// ticketLife is how long a ticket to a recording's audio lasts.
const ticketLife = 30 * time.Minute

// maxTickets bounds the tickets kept (the oldest go first).
const maxTickets = 10000

// ticket is the right to fetch one recording's audio, given once its
// purpose was logged, for one session.
type ticket struct {
	session string
	rec     archive.StoredRecording
	purpose string
	expires time.Time
}

// tickets are the live tickets, in memory: a restarted console asks for
// the purpose again.
type tickets struct {
	mu sync.Mutex
	m  map[string]*ticket
}

func newTickets() *tickets { return &tickets{m: map[string]*ticket{}} }

func (t *tickets) issue(session string, rec archive.StoredRecording, purpose string, now time.Time) string {
	b := make([]byte, 24)
	rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= maxTickets {
		t.pruneLocked(now)
		for k := range t.m { // still full: drop one
			delete(t.m, k)
			break
		}
	}
	t.m[id] = &ticket{session: session, rec: rec, purpose: purpose, expires: now.Add(ticketLife)}
	return id
}

func (t *tickets) get(id, session string, now time.Time) (*ticket, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tk, ok := t.m[id]
	if !ok || tk.session != session || now.After(tk.expires) {
		return nil, false
	}
	return tk, true
}

// extend keeps session's ticket id alive for ticketLife from now.
func (t *tickets) extend(id, session string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tk, ok := t.m[id]; ok && tk.session == session && !now.After(tk.expires) {
		tk.expires = now.Add(ticketLife)
	}
}

func (t *tickets) prune(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pruneLocked(now)
}

func (t *tickets) pruneLocked(now time.Time) {
	for k, tk := range t.m {
		if now.After(tk.expires) {
			delete(t.m, k)
		}
	}
}

func (t *tickets) endSession(session string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, tk := range t.m {
		if tk.session == session {
			delete(t.m, k)
		}
	}
}

// verify checks a recording's file before its first byte is served.
func (s *Server) verify(rec archive.StoredRecording) error {
	if err := query.Verify(s.cfg.Archive.Dir, rec); err != nil {
		s.log.Error().Err(err).Int64("recording", rec.ID).Msg("console: recording fails its integrity check; not served")
		return &apiError{http.StatusConflict, "Le fichier de cet enregistrement ne correspond pas à l'archive : il n'est pas servi, et l'incident est journalisé."}
	}
	return nil
}

// audio answers GET /api/recordings/{id}/audio?t=TICKET: the WAV file,
// with HTTP Range for seeking; with &telecharger=1, as a download, for
// those with that right (logged apart).
func (s *Server) audio(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	v := s.visitorOf(r)
	if v == nil {
		http.Error(w, "Session expirée : reconnectez-vous.", http.StatusUnauthorized)
		return
	}
	tk, ok := s.tickets.get(r.URL.Query().Get("t"), v.idHash, time.Now())
	if !ok || strconv.FormatInt(tk.rec.ID, 10) != r.PathValue("id") {
		http.Error(w, "Indiquez d'abord la finalité de l'écoute.", http.StatusForbidden)
		return
	}
	if r.URL.Query().Get("telecharger") == "1" {
		if !v.viewer().MayDownload() {
			_ = v.guard.Audit(r.Context(), "console download", r.PathValue("id"), tk.purpose, nil, register.Refused,
				map[string]any{"reason": "downloading is a right apart from listening"})
			http.Error(w, "Le téléchargement est un droit distinct de l'écoute ; il ne vous est pas accordé.", http.StatusForbidden)
			return
		}
		if err := v.guard.Audit(r.Context(), "console download", r.PathValue("id"), tk.purpose, nil, register.Granted,
			map[string]any{"sha256": tk.rec.SHA256}); err != nil {
			http.Error(w, "Le journal des accès est indisponible : rien n'est servi.", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Disposition", `attachment; filename="`+safeName(tk.rec.Path)+`"`)
	}
	f, err := query.Open(s.cfg.Archive.Dir, tk.rec)
	if err != nil {
		s.log.Error().Err(err).Int64("recording", tk.rec.ID).Msg("console: recording not served")
		http.Error(w, "Le fichier de cet enregistrement n'est pas disponible.", http.StatusConflict)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "audio/wav")
	http.ServeContent(w, r, "", tk.rec.Start, f)
}

// safeName is a file's base name, fit for a header.
func safeName(p string) string {
	b := []byte(filepath.Base(p))
	for i, c := range b {
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			b[i] = '_'
		}
	}
	return string(b)
}
