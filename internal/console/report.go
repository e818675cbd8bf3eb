package console

import (
	"bytes"
	"net/http"
	"time"

	"github.com/villedemercier/recpolicy/internal/report"
)

// compliance answers GET /rapport?mois=YYYY-MM[&service=ID][&format=csv]:
// the month's compliance report (the previous month by default), for the
// administrators, logged by the guard; as a page, or as CSV to download.
// The PDF is made on the server (recpolicy report --format pdf) or by
// printing the page: the console's hardened unit runs no browser.
func (s *Server) compliance(w http.ResponseWriter, r *http.Request) {
	v := s.visitorOf(r)
	if v == nil {
		http.Redirect(w, r, "/connexion", http.StatusSeeOther)
		return
	}
	rl := s.rules()
	q := r.URL.Query()
	month := q.Get("mois")
	if month == "" {
		month = report.PreviousMonth(time.Now(), rl.Location())
	}
	dept, format := q.Get("service"), q.Get("format")
	if err := v.guard.Authorize(r.Context(), "console report", month+" "+dept, true); err != nil {
		s.notFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if format != "" && format != report.FormatCSV {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "« format » : csv, ou rien pour la page."})
		return
	}
	if _, _, err := report.MonthWindow(month, rl.Location()); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "« mois » : AAAA-MM, par exemple 2026-11."})
		return
	}
	if _, ok := rl.Department(dept); dept != "" && !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "« service » : un service des règles, ou rien pour toute la Ville."})
		return
	}
	rep, err := report.Make(r.Context(), s.store, rl, s.cfg.RulesFile, s.cfg.Archive.PBXCDRCSV, month, dept, time.Now())
	if err != nil {
		s.log.Error().Err(err).Msg("console: report failed")
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "Erreur du serveur ; réessayez plus tard."})
		return
	}
	var buf bytes.Buffer
	if format == report.FormatCSV {
		if err := rep.CSV(&buf, rl.Location()); err != nil {
			s.log.Error().Err(err).Msg("console: report CSV failed")
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+report.FileName(month, dept, "csv")+`"`)
		w.Write(buf.Bytes())
		return
	}
	var depts [][2]string
	for _, d := range rl.Departments() {
		depts = append(depts, [2]string{d.ID, d.Name})
	}
	if err := rep.HTML(&buf, report.Page{Loc: rl.Location(), Nonce: nonceOf(r), Console: true, Departments: depts}); err != nil {
		s.log.Error().Err(err).Msg("console: report page failed")
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "Erreur du serveur ; réessayez plus tard."})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}
