package console

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/archive/retention"
	"github.com/villedemercier/recpolicy/internal/access"
	"github.com/villedemercier/recpolicy/internal/redact"
)

// maxMasks bounds the intervals of one copy.
const maxMasks = 500

// openTraining answers POST /api/recordings/{id}/formation: the guard
// hands the recording over for training (purpose logged, confidential
// calls refused); the answer is a ticket to its audio, the training
// session that tracks what was heard, and the help for redacting (turns
// per channel, DTMF digits proposed for masking).
func (s *Server) openTraining(v *visitor, r *http.Request) (any, error) {
	ref, err := recordingRef(r)
	if err != nil {
		return nil, err
	}
	rec, err := v.guard.TrainingSource(r.Context(), "console training open", ref, map[string]any{"client": client(r)})
	if err != nil {
		if errors.Is(err, access.ErrAccessDenied) && v.viewer().MayTrain() {
			return nil, &apiError{http.StatusForbidden, "Cet enregistrement ne sert pas à la formation : l'appel concerne un poste soumis au secret professionnel."}
		}
		return nil, hideRefusal(err)
	}
	// Analyse checks the file against the archive first (once: no verify
	// of our own before it).
	a, err := retention.Analyse(s.cfg.Archive.Dir, rec)
	if err != nil {
		var ie *archive.IntegrityError
		if errors.As(err, &ie) || errors.Is(err, archive.ErrOutsideArea) {
			return nil, s.altered(rec, err)
		}
		if errors.Is(err, retention.ErrNotWAV) {
			return nil, &apiError{http.StatusConflict, "Cet enregistrement n'est pas en PCM 16 bits : il ne peut pas être caviardé dans la console."}
		}
		return nil, err
	}
	now := time.Now()
	t := s.tickets.add(v.idHash, ticket{rec: rec, purpose: access.PurposeTraining}, now)
	id := s.trainings.add(v.idHash, newTraining(rec, t, a.Duration, now), now)
	turns := make([][]spanJSON, len(a.Turns))
	for c, ts := range a.Turns {
		turns[c] = make([]spanJSON, 0, len(ts))
		for _, seg := range ts {
			turns[c] = append(turns[c], spanJSON{seg.Start.Seconds(), seg.End.Seconds()})
		}
	}
	digits := make([]digitJSON, 0, len(a.Digits))
	for _, d := range a.Digits {
		digits = append(digits, digitJSON{string(d.Key), d.Start.Seconds(), d.End.Seconds()})
	}
	return map[string]any{
		"training": id, "audio": "/api/recordings/" + ref + "/audio?t=" + t, "recording": toJSON(rec, s.rules()),
		"duration": a.Duration.Seconds(), "channels": a.Channels, "turns": turns, "digits": digits,
		"padding": redact.Padding.Seconds(), "max_speed": maxSpeed,
	}, nil
}

// spanJSON is an interval in seconds.
type spanJSON struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// digitJSON is a DTMF digit found.
type digitJSON struct {
	Key   string  `json:"key"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// trainingOf returns the visitor's training session of the URL's {tid}.
func (s *Server) trainingOf(v *visitor, r *http.Request) (*training, error) {
	tr, ok := s.trainings.get(r.PathValue("tid"), v.idHash, time.Now())
	if !ok || !v.viewer().MayTrain() {
		return nil, &apiError{http.StatusNotFound, "Cette préparation a expiré : rouvrez l'enregistrement pour la formation."}
	}
	return tr, nil
}

// heard answers POST /api/formation/{tid}/ecoute {"spans": [[from, to]…]}:
// what the player played since its last report; the answer is the
// coverage so far.
func (s *Server) heard(v *visitor, r *http.Request) (any, error) {
	tr, err := s.trainingOf(v, r)
	if err != nil {
		return nil, err
	}
	var body struct {
		Spans [][2]float64 `json:"spans"`
	}
	if err := decodeBody(r, &body, 64<<10, "« spans » : des intervalles [début, fin] en secondes."); err != nil {
		return nil, err
	}
	if len(body.Spans) > 1000 {
		return nil, badRequest("« spans » : au plus 1000 intervalles par envoi.")
	}
	now := time.Now()
	s.trainings.extend(r.PathValue("tid"), v.idHash, now)
	s.tickets.extend(tr.ticket, v.idHash, now) // the audio stays reachable while it is heard
	return tr.hear(body.Spans, now), nil
}

// copyBody is what the operator asks of a copy, for the preview and for
// the copy itself.
type copyBody struct {
	Masks []struct {
		Start   float64 `json:"start"`
		End     float64 `json:"end"`
		Channel string  `json:"channel"` // "citizen" or "both"
	} `json:"masks"`
	Fill        string `json:"fill"` // "tone" or "silence"
	DropCitizen bool   `json:"drop_citizen"`
	Confirm     bool   `json:"confirm"`
}

// redactedRequest reads a copy's body into the archive's request.
func (s *Server) redactedRequest(v *visitor, r *http.Request, tr *training) (retention.RedactedRequest, copyBody, error) {
	var body copyBody
	var req retention.RedactedRequest
	if err := decodeBody(r, &body, 256<<10, "Le caviardage demandé est illisible."); err != nil {
		return req, body, err
	}
	if len(body.Masks) > maxMasks {
		return req, body, badRequest("Au plus 500 intervalles par copie.")
	}
	dur := tr.duration.Seconds()
	for i, m := range body.Masks {
		where := "Intervalle " + strconv.Itoa(i+1) + " : "
		if !(m.Start >= 0 && m.End > m.Start && m.End <= dur+1) {
			return req, body, badRequest(where + "le début doit précéder la fin, dans la durée de l'appel.")
		}
		mask := redact.Mask{Segment: redact.Segment{Start: secs(m.Start), End: secs(m.End)}}
		switch m.Channel {
		case "citizen":
			mask.Channels = []int{1}
		case "both":
			mask.Channels = []int{0, 1}
		default:
			return req, body, badRequest(where + "le canal est « citizen » (le citoyen) ou « both » (les deux).")
		}
		req.Masks = append(req.Masks, mask)
	}
	switch body.Fill {
	case "", "tone":
		req.Fill = redact.Tone
	case "silence":
		req.Fill = redact.Silence
	default:
		return req, body, badRequest("« fill » : tone (une tonalité) ou silence.")
	}
	if body.DropCitizen {
		citizen := 1
		req.Drop = &citizen
	}
	req.Source, req.ArchiveDir = tr.rec, s.cfg.Archive.Dir
	req.Dir, req.Actor = s.cfg.TrainingDir(), retention.Actor{Name: v.viewer().Login}
	return req, body, nil
}

// secs turns seconds into a duration.
func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// preview answers POST /api/formation/{tid}/apercu: the copy as it would
// be, as WAV audio, kept nowhere.
func (s *Server) preview(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	v := s.visitorOf(r)
	if v == nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Session expirée : reconnectez-vous.", "login": "/connexion"})
		return
	}
	fail := func(err error) {
		var ae *apiError
		if !errors.As(err, &ae) {
			s.log.Error().Err(err).Msg("console: training preview failed")
			ae = &apiError{http.StatusUnprocessableEntity, "L'aperçu n'a pas pu être produit : vérifiez les intervalles (et qu'un enregistrement mono n'a pas de canal à retirer)."}
		}
		writeJSON(w, ae.status, map[string]string{"error": ae.msg})
	}
	tr, err := s.trainingOf(v, r)
	if err != nil {
		fail(err)
		return
	}
	req, _, err := s.redactedRequest(v, r, tr)
	if err != nil {
		fail(err)
		return
	}
	var buf bytes.Buffer
	if _, err := retention.PreviewRedacted(req, &buf); err != nil {
		fail(err)
		return
	}
	w.Header().Set("Content-Type", "audio/wav")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(buf.Bytes()))
}

// produce answers POST /api/formation/{tid}/copie: the redacted copy,
// filed in the training area and its redaction logged, once the whole call
// was heard in this session and the operator confirms it.
func (s *Server) produce(v *visitor, r *http.Request) (any, error) {
	tr, err := s.trainingOf(v, r)
	if err != nil {
		return nil, err
	}
	req, body, err := s.redactedRequest(v, r, tr)
	if err != nil {
		return nil, err
	}
	cov := tr.coverage()
	if !cov.Complete {
		return nil, &apiError{http.StatusConflict, "Écoutez d'abord chaque seconde de l'appel : la copie n'est produite qu'ensuite."}
	}
	if !body.Confirm {
		return nil, badRequest("Confirmez avoir écouté tout l'appel et marqué tout ce qui identifie une personne.")
	}
	days, err := retention.TrainingKeep(s.rules().Retention())
	if err != nil {
		return nil, &apiError{http.StatusConflict, "Le fichier de règles n'a pas de catégorie de conservation « training » : l'administration doit l'ajouter."}
	}
	if req.Dir == "" {
		return nil, &apiError{http.StatusConflict, "Aucun dossier de formation n'est configuré (archive.training_dir) : l'administration doit le fixer."}
	}
	req.HeardAll, req.KeepDays = true, days
	rc, err := s.retention.ExportRedacted(r.Context(), req)
	if err != nil {
		s.log.Error().Err(err).Int64("recording", req.Source.ID).Msg("console: training copy not produced")
		_ = v.guard.Audit(r.Context(), "console training copy", strconv.FormatInt(req.Source.ID, 10), access.PurposeTraining, nil, register.Refused,
			map[string]any{"reason": err.Error()})
		return nil, &apiError{http.StatusUnprocessableEntity, "La copie n'a pas été produite ; rien n'a été gardé. Vérifiez les intervalles, puis réessayez."}
	}
	if err := v.guard.Audit(r.Context(), "console training copy", strconv.FormatInt(req.Source.ID, 10), access.PurposeTraining, nil, register.Granted,
		map[string]any{"copy": rc.ID, "masks": len(rc.Masks), "dropped_citizen": req.Drop != nil}); err != nil {
		return nil, err
	}
	return map[string]any{"copy": map[string]any{"id": rc.ID, "name": rc.Name, "duration": rc.Duration, "sha256": rc.SHA256,
		"masks": len(rc.Masks), "retention_class": rc.Class}}, nil
}
