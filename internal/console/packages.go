package console

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/internal/fulfil"
	"github.com/villedemercier/recpolicy/internal/transmit"
)

// A granted request is fulfilled from its page: the IT department names
// the recipient and the channel, the console makes the signed and
// encrypted package (internal/fulfil, as the CLI does), shows the
// passphrase once (to give the recipient apart, by telephone or in person)
// and keeps the package for its maker to download for packageTTL. When the
// holder confirms the copies destroyed, the IT department records it, and
// the request can be closed.

// packageTTL is how long a made package waits on the server for download.
const packageTTL = time.Hour

// madePackage is a package waiting to be downloaded.
type madePackage struct {
	path, login, name string
	expires           time.Time
}

// packages are the packages waiting for download, in a private folder.
type packages struct {
	mu   sync.Mutex
	dir  string
	made map[int64]madePackage // by transmission
}

func newPackages() *packages { return &packages{made: map[int64]madePackage{}} }

// create opens a new package file in the private folder (made on first use).
func (p *packages) create() (*os.File, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dir == "" {
		d, err := os.MkdirTemp("", "recpolicy-paquets-")
		if err != nil {
			return nil, err
		}
		p.dir = d
	}
	return os.CreateTemp(p.dir, "paquet-*.tar.age")
}

func (p *packages) put(t int64, m madePackage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.made[t] = m
}

func (p *packages) get(t int64, now time.Time) (madePackage, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.made[t]
	return m, ok && now.Before(m.expires)
}

// drop removes transmission t's package, if still here.
func (p *packages) drop(t int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m, ok := p.made[t]; ok {
		os.Remove(m.path)
		delete(p.made, t)
	}
}

// prune removes the packages older than packageTTL.
func (p *packages) prune(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for t, m := range p.made {
		if !now.Before(m.expires) {
			os.Remove(m.path)
			delete(p.made, t)
		}
	}
}

// removeAll removes every package and the folder (the console stops).
func (p *packages) removeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dir != "" {
		os.RemoveAll(p.dir)
		p.dir = ""
	}
	clear(p.made)
}

// makePackage answers POST /api/requests/{id}/paquet {"to", "via",
// "destroy_by"}: the package of a granted request, its passphrase (shown
// this once) and where to download it.
func (s *Server) makePackage(v *visitor, r *http.Request) (any, error) {
	id, err := requestID(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		To        string `json:"to"`
		Via       string `json:"via"`
		DestroyBy string `json:"destroy_by"`
	}
	const need = "Nommez le destinataire et le moyen de transmission (le registre les garde)."
	if err := decodeBody(r, &body, 16<<10, need); err != nil {
		return nil, err
	}
	if strings.TrimSpace(body.To) == "" || strings.TrimSpace(body.Via) == "" {
		return nil, badRequest(need)
	}
	due := time.Now().AddDate(0, 0, 90)
	if body.DestroyBy != "" {
		if due, err = time.ParseInLocation(time.DateOnly, body.DestroyBy, s.rules().Location()); err != nil || due.Before(time.Now()) {
			return nil, badRequest("« À détruire au plus tard » : une date à venir, par exemple 2027-03-31.")
		}
	}
	if err := v.guard.Authorize(r.Context(), "console request package", strconv.FormatInt(id, 10), true); err != nil {
		return nil, err
	}
	if s.signingKey == nil {
		return nil, &apiError{http.StatusConflict, "La clé de signature de la Ville n'est pas configurée (archive.signing_key) : aucun paquet ne peut être signé."}
	}
	pass := transmit.NewPassphrase()
	var path string
	create := func() (*os.File, error) {
		f, err := s.packages.create()
		if err == nil {
			path = f.Name()
		}
		return f, err
	}
	t, res, err := fulfil.Fulfil(r.Context(), fulfil.Deps{Guard: v.guard, Register: s.register, ArchiveDir: s.cfg.Archive.Dir, Key: s.signingKey},
		fulfil.Order{RequestID: id, To: body.To, Via: body.Via, DestroyBy: due, By: v.viewer().Login, Passphrase: pass, Action: "console request package"},
		create)
	if err != nil {
		return nil, packageError(err)
	}
	name := fmt.Sprintf("demande-%d-transmission-%d.tar.age", id, t.ID)
	s.packages.put(t.ID, madePackage{path: path, login: v.viewer().Login, name: name, expires: time.Now().Add(packageTTL)})
	return map[string]any{"transmission": t, "passphrase": pass, "sha256": res.SHA256, "size": res.Size, "file": name,
		"download": "/api/transmissions/" + strconv.FormatInt(t.ID, 10) + "/paquet", "available_until": time.Now().Add(packageTTL),
		"signing_key_sha256": res.Manifest.KeyFinger}, nil
}

// downloadPackage answers GET /api/transmissions/{id}/paquet: the package
// its maker downloads, while it waits on the server.
func (s *Server) downloadPackage(w http.ResponseWriter, r *http.Request) {
	v := s.visitorOf(r)
	if v == nil {
		http.Redirect(w, r, "/connexion", http.StatusSeeOther)
		return
	}
	tid, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || tid <= 0 {
		s.notFound(w, r)
		return
	}
	if err := v.guard.Authorize(r.Context(), "console package download", strconv.FormatInt(tid, 10), true); err != nil {
		s.notFound(w, r)
		return
	}
	m, ok := s.packages.get(tid, time.Now())
	if !ok || m.login != v.viewer().Login {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusGone, map[string]string{"error": "Ce paquet n'est plus sur le serveur (il y reste une heure, pour la personne qui l'a produit) : produisez-en un autre."})
		return
	}
	f, err := os.Open(m.path)
	if err != nil {
		s.log.Error().Err(err).Int64("transmission", tid).Msg("console: package not readable")
		writeJSON(w, http.StatusGone, map[string]string{"error": "Ce paquet n'est plus sur le serveur : produisez-en un autre."})
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "Erreur du serveur ; réessayez plus tard."})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+m.name+`"`)
	http.ServeContent(w, r, m.name, fi.ModTime(), f)
}

// confirmDestruction answers POST /api/requests/{id}/destruction
// {"transmission": T, "statement": "…"}: the holder of transmission T's
// copies confirmed them destroyed.
func (s *Server) confirmDestruction(v *visitor, r *http.Request) (any, error) {
	id, err := requestID(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		Transmission int64  `json:"transmission"`
		Statement    string `json:"statement"`
	}
	const need = "Nommez la transmission et recopiez la confirmation de destruction reçue du détenteur."
	if err := decodeBody(r, &body, 16<<10, need); err != nil {
		return nil, err
	}
	if body.Transmission <= 0 || strings.TrimSpace(body.Statement) == "" {
		return nil, badRequest(need)
	}
	if err := v.guard.Authorize(r.Context(), "console confirm destruction", fmt.Sprintf("%d transmission=%d", id, body.Transmission), true); err != nil {
		return nil, err
	}
	ts, err := s.register.ListTransmissions(r.Context(), register.TransmissionFilter{RequestID: id})
	if err != nil {
		return nil, err
	}
	found := false
	for _, t := range ts {
		found = found || t.ID == body.Transmission
	}
	if !found {
		return nil, &apiError{http.StatusNotFound, "Cette transmission n'appartient pas à cette demande."}
	}
	if err := s.register.ConfirmDestroyed(r.Context(), body.Transmission, body.Statement, v.viewer().Login); err != nil {
		return nil, registerError(err)
	}
	s.packages.drop(body.Transmission)
	return map[string]any{"transmission": body.Transmission}, nil
}

// closeRequest answers POST /api/requests/{id}/fermeture {"note": "…"}:
// a decided request closes once every copy that left is confirmed
// destroyed.
func (s *Server) closeRequest(v *visitor, r *http.Request) (any, error) {
	id, err := requestID(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		Note string `json:"note"`
	}
	const need = "Dites comment la demande s'est terminée (par exemple : copies détruites par le demandeur le 2026-12-01)."
	if err := decodeBody(r, &body, 16<<10, need); err != nil {
		return nil, err
	}
	if strings.TrimSpace(body.Note) == "" {
		return nil, badRequest(need)
	}
	if err := v.guard.Authorize(r.Context(), "console request close", strconv.FormatInt(id, 10), true); err != nil {
		return nil, err
	}
	req, err := s.register.CloseRequest(r.Context(), id, v.viewer().Login, body.Note)
	if err != nil {
		if errors.Is(err, register.ErrRequestState) {
			return nil, &apiError{http.StatusConflict, "La demande ne peut pas être fermée : elle n'est pas décidée, ou des copies transmises attendent la confirmation de leur destruction."}
		}
		return nil, registerError(err)
	}
	return map[string]any{"request": req}, nil
}

// packageError words why a package was not made.
func packageError(err error) error {
	switch {
	case errors.Is(err, register.ErrRequestState):
		return &apiError{http.StatusConflict, "Seule une demande accordée est satisfaite par un paquet."}
	case errors.Is(err, archive.ErrIntegrity):
		return &apiError{http.StatusConflict, "Un enregistrement visé ne correspond plus à son empreinte SHA-256 : aucun paquet n'est produit. Lancez la vérification d'intégrité."}
	case errors.Is(err, fulfil.ErrRecording):
		return &apiError{http.StatusConflict, "Un enregistrement visé par la demande est introuvable ou n'est pas couvert par elle : aucun paquet n'est produit."}
	}
	return registerError(err)
}
