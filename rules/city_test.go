package rules_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/rules"
)

// policyPath is the city's policy, from the package directory, where the
// workplace keeps it beside the repository; annexeCopy is its Annexe A as
// the repository keeps it, so the check runs in any checkout.
const (
	policyPath = "../../shared/policy/politique-enregistrement-des-appels-2019.txt"
	annexeCopy = "testdata/annexe-a.txt"
)

// annexeLines returns the lines of an Annexe A text from its "ANNEXE A"
// line on (comment lines of the copy skipped).
func annexeLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read Annexe A: %v", err)
	}
	var out []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, "ANNEXE A") {
			in = true
		}
		if in {
			out = append(out, line)
		}
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// TestAnnexeCopyMatchesPolicy: the repository's copy of Annexe A is the
// policy's, whenever the policy file is beside the repository.
func TestAnnexeCopyMatchesPolicy(t *testing.T) {
	if _, err := os.Stat(policyPath); err != nil {
		t.Logf("the policy is not beside this checkout (%v); the city file is checked against the repository's copy of Annexe A only", err)
		return
	}
	want, got := annexeLines(t, policyPath), annexeLines(t, annexeCopy)
	if strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Errorf("%s differs from Annexe A of %s: copy it again from the policy's ANNEXE A line on", annexeCopy, policyPath)
	}
}

// annexeRow is one row of Annexe A.
type annexeRow struct {
	number      string
	departments []string // names, as in the policy
	description string
}

// readAnnexeA reads Annexe A from the policy text: rows of
// "number<TAB>department(s)<TAB>description" after the "ANNEXE A" title.
// A department cell naming two departments (e.g. "Greffe Communications
// et TI") is split into the names of other cells.
func readAnnexeA(t *testing.T) []annexeRow {
	t.Helper()
	type cells struct{ number, dept, description string }
	var raw []cells
	for _, line := range annexeLines(t, annexeCopy) {
		fields := strings.Split(line, "\t")
		if len(fields) != 3 || fields[0] == "Poste" {
			continue
		}
		raw = append(raw, cells{fields[0], fields[1], fields[2]})
	}
	cellSet := map[string]bool{}
	for _, c := range raw {
		cellSet[c.dept] = true
	}
	var rows []annexeRow
	for _, c := range raw {
		delete(cellSet, c.dept) // a cell is not split into itself
		row := annexeRow{number: c.number, description: c.description}
		row.departments = splitDepartments(c.dept, cellSet)
		if row.departments == nil {
			row.departments = []string{c.dept}
		}
		cellSet[c.dept] = true
		rows = append(rows, row)
	}
	return rows
}

// splitDepartments splits a cell into two or more names of other cells,
// joined by spaces, or returns nil.
func splitDepartments(cell string, names map[string]bool) []string {
	for name := range names {
		rest, ok := strings.CutPrefix(cell, name+" ")
		if !ok {
			continue
		}
		if names[rest] {
			return []string{name, rest}
		}
		if tail := splitDepartments(rest, names); tail != nil {
			return append([]string{name}, tail...)
		}
	}
	return nil
}

func TestCityFileMatchesAnnexeA(t *testing.T) {
	rows := readAnnexeA(t)
	if len(rows) != 55 {
		t.Fatalf("read %d rows of Annexe A from the policy, want 55", len(rows))
	}
	r := loadCopy(t, "mercier.yaml")
	names := map[string]string{} // department id → name
	for _, d := range r.Departments() {
		names[d.ID] = d.Name
	}
	seen := map[string]bool{}
	for _, row := range rows {
		if seen[row.number] {
			t.Errorf("Annexe A lists %s twice", row.number)
		}
		seen[row.number] = true
		e, ok := r.Extension(row.number)
		if !ok {
			t.Errorf("Annexe A extension %s (%s) is missing from mercier.yaml", row.number, row.description)
			continue
		}
		if e.Description != row.description {
			t.Errorf("extension %s: description %q, Annexe A says %q", row.number, e.Description, row.description)
		}
		var got []string
		for _, id := range e.Departments {
			got = append(got, names[id])
		}
		if !slices.Equal(got, row.departments) {
			t.Errorf("extension %s: departments %q, Annexe A says %q", row.number, got, row.departments)
		}
		if e.Endpoint != row.number {
			t.Errorf("extension %s: endpoint %q, want the number", row.number, e.Endpoint)
		}
	}
	for _, e := range r.Extensions() {
		if !seen[e.Number] {
			t.Errorf("mercier.yaml lists extension %s, which is not in Annexe A", e.Number)
		}
	}
	if n := len(r.Extensions()); n != 55 {
		t.Errorf("mercier.yaml has %d extensions, want 55", n)
	}
	// The rows naming two departments.
	for number, want := range map[string][]string{
		"245": {"Greffe", "Communications et TI"},
		"254": {"Ressources humaines", "Communications et TI"},
	} {
		e, _ := r.Extension(number)
		var got []string
		for _, id := range e.Departments {
			got = append(got, names[id])
		}
		if !slices.Equal(got, want) {
			t.Errorf("extension %s: departments %q, want %q", number, got, want)
		}
	}
}

func TestCityFileSettings(t *testing.T) {
	r := loadCopy(t, "mercier.yaml")
	if got := r.Timezone(); got != "America/Toronto" {
		t.Errorf("timezone %q", got)
	}
	if got := r.Trunks(); !slices.Equal(got, []string{"carrier"}) {
		t.Errorf("trunks %q", got)
	}
	if e, _ := r.Extension("252"); !e.Confidential || e.Description != "Directeur" {
		t.Errorf("252 (greffier): %+v, want confidential", e)
	}
	for _, e := range r.Extensions() {
		if e.Confidential && e.Number != "252" {
			t.Errorf("extension %s confidential; only 252 is, as an example", e.Number)
		}
	}
	never := r.NeverRecord()
	if len(never) != 1 || never[0].Number != "899" || never[0].Endpoint != "899" || never[0].Reason == "" {
		t.Errorf("never_record %+v, want the detainee phone 899", never)
	}
	if _, ok := r.Extension("899"); ok {
		t.Error("899 is in Annexe A")
	}
	g := r.Greeting()
	if g.Sound != "recpolicy/avis-enregistrement" || g.Language != "fr" || !strings.HasSuffix(g.File, "/sounds/avis-enregistrement.wav") {
		t.Errorf("greeting %+v", g)
	}
	if days, ok := r.RetentionDays("standard"); !ok || days < 365 {
		t.Errorf("standard retention %d days", days)
	}
	// The nightly purge at 3:30, Mercier's time, whatever the machine's zone.
	after := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	if next := r.NextRun(r.Schedules().Retention, after); !next.Equal(time.Date(2026, 12, 3, 8, 30, 0, 0, time.UTC)) {
		t.Errorf("next purge after %s: %s, want 2026-12-03 03:30 America/Toronto", after, next)
	}
	if !r.NextRun("not a schedule", after).IsZero() {
		t.Error("a schedule that does not parse has a next run")
	}
	for number, want := range map[string]bool{"235": true, "252": true, "811": true, "899": false} {
		d := r.Decide(rules.Party{Endpoint: "carrier", Number: "5145550100"}, rules.Party{Endpoint: number, Number: number})
		if d.Record != want {
			t.Errorf("carrier → %s: %+v, want record %v", number, d, want)
		}
	}
}

// TestCityFileNeedsGreeting checks that the city file, loaded where the
// greeting has not been generated, is rejected with a clear message.
func TestCityFileNeedsGreeting(t *testing.T) {
	data, err := os.ReadFile("mercier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = rules.Parse("mercier.yaml", data, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), `greeting file "sounds/avis-enregistrement.wav" not found`) {
		t.Errorf("got %v", err)
	}
}
