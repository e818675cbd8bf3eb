package console

import (
	"net/http"
	"path/filepath"
	"strconv"
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
// purpose was logged, for one session (kept in a sessionStore).
type ticket struct {
	rec     archive.StoredRecording
	purpose string
}

// tickets are the live tickets: a restarted console asks for the purpose
// again.
type tickets = sessionStore[ticket]

func newTickets() *tickets { return newSessionStore[ticket](ticketLife, maxTickets) }

// verify checks a recording's file before its first byte is served.
func (s *Server) verify(rec archive.StoredRecording) error {
	if err := query.Verify(s.cfg.Archive.Dir, rec); err != nil {
		return s.altered(rec, err)
	}
	return nil
}

// altered logs a recording whose file fails its integrity check, and is
// the answer that says so.
func (s *Server) altered(rec archive.StoredRecording, err error) error {
	s.log.Error().Err(err).Int64("recording", rec.ID).Msg("console: recording fails its integrity check; not served")
	return &apiError{http.StatusConflict, "Le fichier de cet enregistrement ne correspond pas à l'archive : il n'est pas servi, et l'incident est journalisé."}
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
