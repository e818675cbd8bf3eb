package report

import (
	"bytes"
	"context"
	"embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

//go:embed templates/report.html
var templates embed.FS

// Formats the report is rendered in.
const (
	FormatHTML = "html"
	FormatCSV  = "csv"
	FormatPDF  = "pdf"
)

var greetingLabels = map[string]string{
	"played": "diffusé par l'application ARI", "fallback": "diffusé par le plan de numérotation", "cut_short": "interrompu (l'appelant a raccroché)",
	"none": "aucun", "unknown": "inconnu", "missed": "appel non enregistré (issue inconnue)",
}

// French number and percentage formats.
func pct(f float64) string { return strings.Replace(fmt.Sprintf("%.1f %%", f*100), ".", ",", 1) }
func num(f float64) string { return strings.Replace(fmt.Sprintf("%.0f", f), ".", ",", 1) }
func dec(f float64) string { return strings.Replace(fmt.Sprintf("%.1f", f), ".", ",", 1) }

// Page says how the HTML page is made.
type Page struct {
	Loc *time.Location
	// Nonce, when not empty, is put on the page's <style> (a page served
	// under a Content-Security-Policy).
	Nonce string
	// Console, when set, adds the console's form (month, department, CSV)
	// above the report, hidden when printed; Departments fill its list.
	Console     bool
	Departments [][2]string // id, name
}

// HTML writes the report as a standalone HTML page (styles inline, charts
// as SVG, no script).
func (r *Report) HTML(w io.Writer, p Page) error {
	loc := p.Loc
	t, err := template.New("report.html").Funcs(template.FuncMap{
		"pct": pct, "num": num, "dec": dec,
		"day":  func(t time.Time) string { return t.In(loc).Format("2006-01-02") },
		"when": func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04") },
		"whenp": func(t *time.Time) string {
			if t == nil {
				return "—"
			}
			return t.In(loc).Format("2006-01-02 15:04")
		},
		"short":    func(s string) string { return s[:min(12, len(s))] },
		"greeting": func(s string) string { return greetingLabel(s) },
		"bad":      func(x ExtRow) bool { return x.Recorded < x.External },
		"nz":       func(n int) bool { return n != 0 },
		"deref":    func(b *bool) bool { return b != nil && *b },
		"svgDaily": func() template.HTML { return r.dailyChart() },
		"svgDepts": func() template.HTML { return r.deptChart() },
		"greetings": func() [][2]string {
			var out [][2]string
			for _, k := range sortedKeys(r.Greetings) {
				out = append(out, [2]string{greetingLabel(k), strconv.Itoa(r.Greetings[k])})
			}
			return out
		},
	}).ParseFS(templates, "templates/report.html")
	if err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return t.Execute(w, map[string]any{"R": r, "Nonce": p.Nonce, "Console": p.Console, "Departments": p.Departments})
}

func greetingLabel(s string) string {
	if l, ok := greetingLabels[s]; ok {
		return l
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// CSV writes the report as CSV (UTF-8 with BOM, for spreadsheets): one
// table a section, its first column naming the section.
func (r *Report) CSV(w io.Writer, loc *time.Location) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	c := csv.NewWriter(w)
	put := func(rec ...string) {
		for i, s := range rec {
			rec[i] = csvSafe(s)
		}
		c.Write(rec)
	}
	put("section", "service", "poste", "description", "appels externes", "enregistrés", "couverture", "incomplets", "secondes en communication", "secondes enregistrées", "démarrés en retard")
	for _, d := range r.Departments {
		for _, x := range d.Extensions {
			put("couverture", d.ID, x.Extension, x.Description, strconv.Itoa(x.External), strconv.Itoa(x.Recorded), fmt.Sprintf("%.4f", x.Coverage),
				strconv.Itoa(x.Incomplete), fmt.Sprintf("%.0f", x.BridgedSecs), fmt.Sprintf("%.1f", x.RecordedSecs), strconv.Itoa(x.Late))
		}
		put("couverture-service", d.ID, "", d.Name, strconv.Itoa(d.Total.External), strconv.Itoa(d.Total.Recorded), fmt.Sprintf("%.4f", d.Total.Coverage),
			strconv.Itoa(d.Total.Incomplete), fmt.Sprintf("%.0f", d.Total.BridgedSecs), fmt.Sprintf("%.1f", d.Total.RecordedSecs), strconv.Itoa(d.Total.Late))
	}
	put("couverture-ville", "", "", "", strconv.Itoa(r.Total.External), strconv.Itoa(r.Total.Recorded), fmt.Sprintf("%.4f", r.Total.Coverage),
		strconv.Itoa(r.Total.Incomplete), fmt.Sprintf("%.0f", r.Total.BridgedSecs), fmt.Sprintf("%.1f", r.Total.RecordedSecs), strconv.Itoa(r.Total.Late))
	put("manquant", "début", "poste", "de", "vers", "secondes en communication", "linkedid", "règles (sha256)")
	for _, m := range r.Missing {
		put("manquant", m.Start.In(loc).Format("2006-01-02 15:04:05"), m.Extension, m.From, m.To, strconv.Itoa(m.Bridged), m.LinkedID, m.RulesSHA)
	}
	put("jamais-enregistré", "numéro", "appels", "enregistrements", "octets")
	for _, n := range r.NeverRecord {
		put("jamais-enregistré", n.Number, strconv.Itoa(n.Calls), strconv.Itoa(n.Recordings), strconv.FormatInt(n.Bytes, 10))
	}
	put("avis", "issue", "appels")
	for _, k := range sortedKeys(r.Greetings) {
		put("avis", k, strconv.Itoa(r.Greetings[k]))
	}
	put("jour", "date", "service", "appels externes", "enregistrés")
	for _, d := range r.Daily {
		put("jour", d.Day, d.Department, strconv.Itoa(d.External), strconv.Itoa(d.Recorded))
	}
	put("retenue", "n°", "type", "dossier", "placée", "levée")
	for _, h := range r.Holds {
		rel := ""
		if h.Released != nil {
			rel = h.Released.In(loc).Format(time.RFC3339)
		}
		put("retenue", strconv.FormatInt(h.ID, 10), h.Kind, h.Case, h.Opened.In(loc).Format(time.RFC3339), rel)
	}
	put("destruction", "type", "état", "par", "nombre")
	for _, d := range r.Destructions {
		put(append([]string{"destruction"}, append(d.Labels, strconv.FormatInt(d.N, 10))...)...)
	}
	put("demandes", "inscrites", "décidées", "satisfaites", "fermées", "délai moyen de décision (j)", "délai maximal de décision (j)", "délai moyen de transmission (j)")
	q := r.Requests
	put("demandes", strconv.Itoa(q.Registered), strconv.Itoa(q.Decided), strconv.Itoa(q.Fulfilled), strconv.Itoa(q.Closed),
		fmt.Sprintf("%.1f", q.AvgDecisionDays), fmt.Sprintf("%.1f", q.MaxDecisionDays), fmt.Sprintf("%.1f", q.AvgFulfilDays))
	put("accès", "identifiant", "rôle", "finalité", "issue", "nombre")
	for _, a := range r.Accesses {
		put(append([]string{"accès"}, append(a.Labels, strconv.FormatInt(a.N, 10))...)...)
	}
	put("règles", "sha256", "en vigueur du", "au", "chargées par", "fichier")
	for _, v := range r.Rules {
		put("règles", v.SHA256, v.From.In(loc).Format(time.RFC3339), v.Until.In(loc).Format(time.RFC3339), v.Trigger, v.Source)
	}
	put("instruction", "id", "donnée par", "référence", "du", "au", "effet", "postes", "suspendus", "enregistrés", "conservés")
	for _, in := range r.Instructions {
		put("instruction", in.ID, in.Role+" "+in.Name, in.Reference, in.From.In(loc).Format(time.RFC3339), in.Until.In(loc).Format(time.RFC3339),
			in.Effect, strings.Join(in.Extensions, " "), strconv.Itoa(in.Suspended), strconv.Itoa(in.Recorded), strconv.Itoa(in.Retained))
	}
	put("intégrité", "début", "par", "fichiers vérifiés", "problèmes", "chaîne intacte")
	for _, v := range r.Integrity {
		var probs []string
		for _, k := range sortedKeys(v.Problems) {
			probs = append(probs, fmt.Sprintf("%s:%d", k, v.Problems[k]))
		}
		chain := ""
		if v.ChainOK != nil {
			chain = strconv.FormatBool(*v.ChainOK)
		}
		put("intégrité", v.Started.In(loc).Format(time.RFC3339), v.Actor, strconv.Itoa(v.Checked), strings.Join(probs, " "), chain)
	}
	put("autocommutateur", "fichier", "journaux lus", "absents des archives")
	put("autocommutateur", r.PBXSource, strconv.Itoa(r.PBXRecords), strconv.Itoa(r.PBXOnly))
	put("journal-des-accès", "lignes", "ruptures")
	put("journal-des-accès", strconv.FormatInt(r.ChainRows, 10), strings.Join(r.ChainBreaks, "; "))
	c.Flush()
	return c.Error()
}

// csvSafe keeps a spreadsheet from taking a cell for a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return "'" + s
		}
	}
	return s
}

// Chromium is Debian's headless browser the PDF is printed with.
const Chromium = "/usr/bin/chromium"

// PDF prints the report's HTML to PDF (A4) with headless Chromium.
func (r *Report) PDF(ctx context.Context, w io.Writer, loc *time.Location) error {
	if _, err := exec.LookPath(Chromium); err != nil {
		return fmt.Errorf("report as PDF: %s is missing: apt-get install chromium (or choose --format html)", Chromium)
	}
	dir, err := os.MkdirTemp("", "recpolicy-report-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var page bytes.Buffer
	if err := r.HTML(&page, Page{Loc: loc}); err != nil {
		return err
	}
	file := filepath.Join(dir, "rapport.html")
	if err := os.WriteFile(file, page.Bytes(), 0o600); err != nil {
		return err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(Chromium), chromedp.NoSandbox,
		chromedp.UserDataDir(filepath.Join(dir, "profile")), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	cctx, cancel2 := chromedp.NewContext(actx)
	defer cancel2()
	cctx, cancel3 := context.WithTimeout(cctx, 60*time.Second)
	defer cancel3()
	if err := chromedp.Do(cctx, chromedp.Navigate("file://"+file)); err != nil {
		return fmt.Errorf("report as PDF: open the page in Chromium: %w", err)
	}
	pdf, err := chromedp.Run(cctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFPrintBackground(), chromedp.PDFMargin(0.4)))
	if err != nil {
		return fmt.Errorf("report as PDF: print: %w", err)
	}
	_, err = w.Write(pdf)
	return err
}
