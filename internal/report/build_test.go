package report

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	store "github.com/villedemercier/recpolicy/archive/report"
	"github.com/villedemercier/recpolicy/rules"
)

func cityRules(t *testing.T) (*rules.Rules, []byte) {
	t.Helper()
	r, err := rules.Load("../../rules/mercier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile("../../rules/mercier.yaml")
	return r, src
}

// month is November 2026 with a few calls: what the daemon recorded and
// what it did not.
func month(t *testing.T, src []byte, sha string) *store.Month {
	chainOK := true
	loc, _ := time.LoadLocation("America/Toronto")
	from, to, err := MonthWindow("2026-11", loc)
	if err != nil {
		t.Fatal(err)
	}
	at := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, loc).UTC() }
	ans := func(t time.Time) *time.Time { return &t }
	leg := func(id int64, linked string, start time.Time, src, dst, ch, dch string, billable int, disp string) store.Leg {
		return store.Leg{ID: id, LinkedID: linked, UniqueID: linked, Start: start, Answer: ans(start), End: start.Add(time.Duration(billable) * time.Second),
			Source: src, Destination: dst, Channel: ch, DestChannel: dch, Billable: billable, Disposition: disp}
	}
	return &store.Month{From: from, To: to,
		Legs: []store.Leg{
			leg(1, "L1", at(3, 10), "5145550100", "235", "PJSIP/carrier-00000001", "PJSIP/235-00000002", 60, "ANSWERED"),
			leg(2, "L2", at(3, 11), "5145550101", "236", "PJSIP/carrier-00000003", "PJSIP/236-00000004", 45, "ANSWERED"), // not recorded
			leg(3, "L3", at(4, 9), "235", "250", "PJSIP/235-00000005", "PJSIP/250-00000006", 30, "ANSWERED"),             // internal
			leg(4, "L4", at(5, 9), "5145550199", "899", "PJSIP/carrier-00000007", "PJSIP/899-00000008", 120, "ANSWERED"), // detainee phone
			leg(5, "L5", at(6, 9), "5145550102", "245", "PJSIP/carrier-00000009", "PJSIP/245-0000000a", 0, "NO ANSWER"),  // unanswered
			leg(6, "L6", at(7, 9), "236", "5145550177", "PJSIP/236-0000000b", "PJSIP/carrier-0000000c", 100, "ANSWERED"), // outbound, recorded short
			leg(7, "L7", at(8, 9), "899", "5145550166", "PJSIP/899-0000000d", "PJSIP/carrier-0000000e", 40, "ANSWERED"),  // detainee phone out
			leg(8, "L8", at(9, 9), "5145550103", "801", "PJSIP/carrier-0000000f", "PJSIP/801-00000010", 20, "ANSWERED"),  // police
			leg(9, "L9", at(10, 9), "5145550104", "235", "PJSIP/carrier-00000011", "", 2, "ANSWERED"),                    // hung up in the greeting
		},
		Recordings: []store.Recording{
			{ID: 1, LinkedID: "L1", Extension: "235", Direction: "inbound", Greeting: "played", RulesSHA: sha, Start: at(3, 10), Duration: 59.8, Size: 960000},
			{ID: 2, LinkedID: "L6", Extension: "236", Direction: "outbound", Greeting: "none", RulesSHA: sha, Start: at(7, 9).Add(10 * time.Second), Duration: 30, Size: 480000}, // started late
			{ID: 3, LinkedID: "L8", Extension: "801", Direction: "inbound", Greeting: "fallback", RulesSHA: sha, Start: at(9, 9), Duration: 20, Size: 320000},
		},
		Integrity: []store.IntegrityRun{{Started: at(8, 4), Finished: at(8, 4).Add(time.Minute), Actor: "integrity", Checked: 120,
			Problems: map[string]int{"altered": 1}, ChainOK: &chainOK}},
		RulesVersions: []store.RulesVersion{{SHA256: sha, LoadedAt: at(1, 0).Add(-time.Hour), Trigger: "start", Source: "/etc/recpolicy/rules.yaml", Content: string(src)}},
	}
}

func TestBuildRecomputesCoverageFromCallRecords(t *testing.T) {
	r, src := cityRules(t)
	m := month(t, src, r.Digest())
	rep, err := Build(m, Options{Month: "2026-11", Rules: r, RulesDir: "../../rules", Generated: time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.External != 4 || rep.Total.Recorded != 3 || rep.Total.Incomplete != 1 {
		t.Errorf("total %+v: want 4 external calls (235, 236 in and out, 801), 3 recorded, 1 incomplete", rep.Total)
	}
	if len(rep.Missing) != 1 || rep.Missing[0].LinkedID != "L2" || rep.Missing[0].Extension != "236" || rep.Missing[0].Bridged != 45 || rep.Missing[0].RulesSHA != r.Digest() {
		t.Errorf("missing %+v: want L2 of 236", rep.Missing)
	}
	if len(rep.NeverRecord) != 1 || rep.NeverRecord[0].Calls != 2 || rep.NeverRecord[0].Recordings != 0 || rep.NeverRecord[0].Bytes != 0 {
		t.Errorf("never-record %+v: want 899's 2 calls, nothing recorded", rep.NeverRecord)
	}
	if rep.Greetings["played"] != 1 || rep.Greetings["fallback"] != 1 || rep.Greetings["missed"] != 1 || rep.Greetings["cut_short"] != 1 {
		t.Errorf("greetings %v", rep.Greetings)
	}
	var fin ExtRow
	for _, d := range rep.Departments {
		for _, x := range d.Extensions {
			if x.Extension == "236" {
				fin = x
			}
		}
	}
	if fin.External != 2 || fin.Recorded != 1 || fin.Coverage != 0.5 || fin.BridgedSecs != 145 || fin.RecordedSecs != 30 || fin.Late != 1 {
		t.Errorf("236: %+v", fin)
	}
	if len(rep.Rules) != 1 || !rep.Rules[0].Parsed || !rep.Rules[0].From.Equal(m.From) || !rep.Rules[0].Until.Equal(m.To) {
		t.Errorf("rules windows %+v", rep.Rules)
	}
	// One department only.
	police, err := Build(m, Options{Month: "2026-11", Department: "police", Rules: r, RulesDir: "../../rules"})
	if err != nil {
		t.Fatal(err)
	}
	if len(police.Departments) != 1 || police.Total.External != 1 || police.Total.Recorded != 1 || len(police.Missing) != 0 {
		t.Errorf("police: %+v %+v", police.Total, police.Missing)
	}
	if _, err := Build(m, Options{Month: "2026-11", Department: "nulle-part", Rules: r}); err == nil {
		t.Error("an unknown department was accepted")
	}
	// The renderings hold the figures, in French.
	var html, csv bytes.Buffer
	if err := rep.HTML(&html, Page{Loc: r.Location()}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Rapport de conformité", "75,0 %", "<code>L2</code>", "Téléphones jamais enregistrés", "<svg", "diffusé par le plan de numérotation", r.Digest(),
		"Vérifications d'intégrité", "altered : 1"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("the HTML has no %q", want)
		}
	}
	if err := rep.CSV(&csv, r.Location()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"manquant,2026-11-03 11:00:00,236,5145550101,236,45,L2", "couverture-ville,,,,4,3,0.7500", "jamais-enregistré,899,2,0,0",
		"intégrité,2026-11-08T04:00:00-05:00,integrity,120,altered:1,true"} {
		if !strings.Contains(csv.String(), want) {
			t.Errorf("the CSV has no %q:\n%s", want, csv.String())
		}
	}
}

func TestMonthWindow(t *testing.T) {
	loc, _ := time.LoadLocation("America/Toronto")
	from, to, err := MonthWindow("2026-11", loc)
	if err != nil || from.UTC().Format(time.RFC3339) != "2026-11-01T04:00:00Z" || to.UTC().Format(time.RFC3339) != "2026-12-01T05:00:00Z" {
		t.Errorf("November in Mercier: %s – %s %v", from.UTC(), to.UTC(), err)
	}
	for _, bad := range []string{"2026-13", "11-2026", "", "2026-11-01"} {
		if _, _, err := MonthWindow(bad, loc); err == nil {
			t.Errorf("month %q accepted", bad)
		}
	}
}

// TestPDF prints the report with Debian's headless Chromium and reads it
// back with poppler: the figures are in its text, and its first page
// renders.
func TestPDF(t *testing.T) {
	for _, tool := range []string{Chromium, "pdftotext", "pdftoppm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: docker/sandbox up installs chromium and poppler-utils", tool)
		}
	}
	r, src := cityRules(t)
	rep, err := Build(month(t, src, r.Digest()), Options{Month: "2026-11", Rules: r, RulesDir: "../../rules", Generated: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pdf := filepath.Join(dir, FileName("2026-11", "", "pdf"))
	f, err := os.Create(pdf)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.PDF(t.Context(), f, r.Location()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	text, err := exec.Command("pdftotext", "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	for _, want := range []string{"Rapport de conformité", "75,0 %", "L2", "Téléphones jamais enregistrés", "Couverture par service"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the PDF's text has no %q", want)
		}
	}
	if out, err := exec.Command("pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", pdf, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	png, err := filepath.Glob(filepath.Join(dir, "page*.png"))
	if err != nil || len(png) != 1 {
		t.Fatalf("pdftoppm rendered %v", png)
	}
	if fi, _ := os.Stat(png[0]); fi.Size() < 10_000 {
		t.Errorf("the first page renders as a %d-byte image", fi.Size())
	}
	if d := os.Getenv("RECPOLICY_SCREENSHOTS"); d != "" {
		b, _ := os.ReadFile(png[0])
		os.WriteFile(filepath.Join(d, "rapport-page1.png"), b, 0o644)
	}
}

// TestBuildListsInstructions: a suspend instruction of the rules version in
// force keeps 235's calls out of the expected ones within its window, and
// the report says what it changed.
func TestBuildListsInstructions(t *testing.T) {
	r, src := cityRules(t)
	withInstr := string(src) + `
instructions:
  - id: DG-2026-07
    role: directeur général
    name: "Paul Gagnon"
    reference: "note DG-2026-07 du 2026-11-02"
    from: 2026-11-02T00:00
    until: 2026-11-04T00:00
    effect: suspend
    extensions: [235]
`
	m := month(t, []byte(withInstr), "ab"+r.Digest()[2:])
	rep, err := Build(m, Options{Month: "2026-11", Rules: r, RulesDir: "../../rules"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Instructions) != 1 || rep.Instructions[0].ID != "DG-2026-07" || rep.Instructions[0].Suspended != 1 {
		t.Fatalf("instructions %+v", rep.Instructions)
	}
	if rep.Total.External != 3 || len(rep.Missing) != 1 {
		t.Errorf("with 235 suspended on the 3rd: total %+v, missing %+v", rep.Total, rep.Missing)
	}
	var csv bytes.Buffer
	rep.CSV(&csv, r.Location())
	if !strings.Contains(csv.String(), "instruction,DG-2026-07,directeur général Paul Gagnon,note DG-2026-07 du 2026-11-02") {
		t.Errorf("CSV: %s", csv.String())
	}
}

// TestPBXCallRecords: a call the PBX recorded in its own Master.csv but
// the archive never received (the daemon was down) counts, and is missing
// its recording; a call in both counts once.
func TestPBXCallRecords(t *testing.T) {
	r, src := cityRules(t)
	m := month(t, src, r.Digest())
	csv := `"","5145550100","235","internal","""X"" <5145550100>","PJSIP/carrier-00000001","PJSIP/235-00000002","Dial","PJSIP/235,45,t","2026-11-03 15:00:00","2026-11-03 15:00:00","2026-11-03 15:01:00",60,60,"ANSWERED","DOCUMENTATION","L1","","","L1",0
"","5145550142","801","internal","""Y"" <5145550142>","PJSIP/carrier-00000011","PJSIP/801-00000012","Dial","PJSIP/801,45,t","2026-11-20 14:00:00","2026-11-20 14:00:00","2026-11-20 14:00:30",30,30,"ANSWERED","DOCUMENTATION","mercier-pbx-1.99","","","mercier-pbx-1.99",0
"","5145550142","801","internal","","PJSIP/carrier-00000011","PJSIP/801-00000012","Dial","","2026-12-20 14:00:00","2026-12-20 14:00:00","2026-12-20 14:00:30",30,30,"ANSWERED","DOCUMENTATION","later","","","later",0
`
	legs, err := ReadPBXCSV(strings.NewReader(csv), m.From, m.To)
	if err != nil || len(legs) != 2 {
		t.Fatalf("read: %d legs, %v", len(legs), err)
	}
	m.Legs[0].Sequence = 0 // L1 is in the archive too
	rep, err := Build(m, Options{Month: "2026-11", Rules: r, RulesDir: "../../rules", PBXLegs: legs, PBXSource: "Master.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.PBXRecords != 2 || rep.PBXOnly != 1 || rep.Total.External != 5 {
		t.Errorf("PBX records %d, only in the PBX %d, external %d; want 2, 1, 5", rep.PBXRecords, rep.PBXOnly, rep.Total.External)
	}
	var found bool
	for _, x := range rep.Missing {
		found = found || x.LinkedID == "mercier-pbx-1.99" && x.Extension == "801"
	}
	if !found {
		t.Errorf("the call only the PBX recorded is not missing: %+v", rep.Missing)
	}
	if _, err := ReadPBXCSV(strings.NewReader(`"","a","b"`+"\n"), m.From, m.To); err == nil || !strings.Contains(err.Error(), "newcdrcolumns") {
		t.Errorf("a short line: %v", err)
	}
}
