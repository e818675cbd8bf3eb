package rules_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/rules"
)

func TestFileName(t *testing.T) {
	r := loadCopy(t, "mercier.yaml")
	tests := []struct {
		at   time.Time
		ext  string
		want string
	}{
		{time.Date(2026, 11, 28, 14, 5, 0, 0, time.UTC), "235", "20261128-0905-235"}, // EST, UTC-5
		{time.Date(2026, 7, 1, 12, 34, 59, 0, time.UTC), "252", "20260701-0834-252"}, // EDT, UTC-4
		{time.Date(2027, 1, 1, 4, 59, 0, 0, time.UTC), "800", "20261231-2359-800"},   // the day before, locally
		{time.Date(2026, 11, 28, 9, 5, 0, 0, time.FixedZone("x", -5*3600)), "235", "20261128-0905-235"},
		{time.Date(2026, 11, 28, 14, 5, 0, 0, time.UTC), "../x y", "20261128-0905-___x_y"}, // never a path
		{time.Date(2026, 11, 28, 14, 5, 0, 0, time.UTC), "", "20261128-0905-unknown"},
	}
	for _, tt := range tests {
		if got := r.FileName(tt.at, tt.ext); got != tt.want {
			t.Errorf("FileName(%v, %q) = %q, want %q", tt.at, tt.ext, got, tt.want)
		}
	}
}

func TestFileNameSeconds(t *testing.T) {
	data, err := os.ReadFile("testdata/ok-minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte(`"{date}-{hour}{minute}-{extension}"`), []byte(`"mercier_{extension}.{date}T{hour}{minute}{second}"`), 1)
	r, err := rules.Parse("seconds.yaml", data, rulesDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.FileName(time.Date(2026, 11, 28, 14, 5, 7, 0, time.UTC), "235"); got != "mercier_235.20261128T090507" {
		t.Errorf("got %q", got)
	}
}

func TestAccessors(t *testing.T) {
	r := loadCopy(t, "testdata/ok-minimal.yaml")
	if r.Location().String() != "America/Toronto" {
		t.Errorf("location %v", r.Location())
	}
	if !strings.HasSuffix(r.Source(), "ok-minimal.yaml") || len(r.Digest()) != 64 {
		t.Errorf("source %q digest %q", r.Source(), r.Digest())
	}
	if got := r.Retention(); got["standard"] != 365*24*time.Hour || got["complaint"] != 1095*24*time.Hour || len(got) != 2 {
		t.Errorf("retention %v", got)
	}
	if got := r.RetentionClasses(); !slices.Equal(got, []string{"complaint", "standard"}) {
		t.Errorf("classes %v", got)
	}
	if got := r.Schedules(); got.Retention != "@daily" || got.Integrity != "0 4 * * 0" {
		t.Errorf("schedules %+v", got)
	}
	var numbers []string
	for _, e := range r.Extensions() {
		numbers = append(numbers, e.Number)
	}
	if !slices.Equal(numbers, []string{"235", "236", "245", "252"}) {
		t.Errorf("extensions not sorted by number: %v", numbers)
	}
	if got := r.Departments(); len(got) != 3 || got[0].ID != "communications-ti" || got[1].DirectorUser != "dferland" {
		t.Errorf("departments %+v", got)
	}
	if got := r.NeverRecord(); len(got) != 1 || got[0].Endpoint != "899" {
		t.Errorf("never_record %+v (endpoint defaults to the number)", got)
	}
	if got := r.ExternalNumbers(); len(got) != 2 || got[1] != "9.+" {
		t.Errorf("external numbers %q", got)
	}
	if got := r.FilenameTemplate(); got != "{date}-{hour}{minute}-{extension}" {
		t.Errorf("template %q", got)
	}
	if g := r.Greeting(); !filepath.IsAbs(g.File) {
		t.Errorf("greeting file %q is not absolute", g.File)
	}
	// The rules cannot be changed through what they return.
	exts := r.Extensions()
	exts[0].Departments[0] = "changed"
	one, _ := r.Extension("235")
	one.Departments[0] = "changed"
	r.Trunks()[0] = "changed"
	if e, _ := r.Extension("235"); e.Departments[0] != "communications-ti" || r.Trunks()[0] != "carrier" {
		t.Error("the rules were changed through a returned value")
	}
}

func TestDirectorExtensions(t *testing.T) {
	r := loadCopy(t, "testdata/ok-minimal.yaml")
	for user, want := range map[string][]string{
		"dferland": {"245"},        // 252 is confidential
		"dti":      {"235", "245"}, // 245 belongs to two departments
		"nobody":   nil,
		"":         nil,
	} {
		if got := r.DirectorExtensions(user); !slices.Equal(got, want) {
			t.Errorf("DirectorExtensions(%q) = %v, want %v", user, got, want)
		}
	}
}

func TestExplain(t *testing.T) {
	r := loadCopy(t, "testdata/ok-minimal.yaml")
	tests := []struct {
		from, to, via string
		record        bool
		ext, rule     string
	}{
		{"5145550100", "235", "carrier", true, "235", rules.RuleExternalCall},
		{"235", "5145550100", "carrier", true, "235", rules.RuleExternalCall},
		{"235", "95145550100", "", true, "235", rules.RuleExternalCall},
		{"235", "carrier", "", true, "235", rules.RuleExternalCall},
		{"fin-236", "5145550100", "carrier", true, "236", rules.RuleExternalCall},
		{"236", "5145550100", "carrier2", true, "236", rules.RuleExternalCall},
		{"", "252", "carrier", true, "252", rules.RuleExternalCall}, // withheld caller
		{"235", "252", "", false, "", rules.RuleInternalCall},
		{"235", "252", "carrier", true, "252", rules.RuleExternalCall},   // caller ID 235 presented on the carrier trunk
		{"899", "235", "carrier", true, "235", rules.RuleExternalCall},   // caller ID 899 presented on the carrier trunk
		{"899@carrier", "235", "", true, "235", rules.RuleExternalCall},  // the same, written on the party
		{"250@carrier2", "235", "", true, "235", rules.RuleExternalCall}, // an Annexe A number presented on a trunk
		{"235", "5145550100@carrier", "", true, "235", rules.RuleExternalCall},
		{"235", "5145550100@nope", "", false, "", rules.RuleBadQuery},
		{"899@carrier", "235", "carrier", false, "", rules.RuleBadQuery},
		{"235", "299", "", false, "", rules.RuleInternalCall},
		{"299", "5145550100", "carrier", false, "", rules.RuleNotAnnexeA},
		{"899", "5145550100", "carrier", false, "", rules.RuleNeverRecord},
		{"5145550100", "899", "carrier", false, "", rules.RuleNeverRecord},
		{"899", "235", "", false, "", rules.RuleNeverRecord},
		{"", "899", "carrier", false, "", rules.RuleNeverRecord},
		{"235", "5145550100", "nope", false, "", rules.RuleBadQuery},
		{"", "", "", false, "", rules.RuleBadQuery},
	}
	for _, tt := range tests {
		d := r.Explain(tt.from, tt.to, tt.via)
		if d.Record != tt.record || d.Extension != tt.ext || d.Rule != tt.rule || d.Reason == "" {
			t.Errorf("Explain(%q, %q, %q) = %+v, want record %v extension %q rule %s", tt.from, tt.to, tt.via, d, tt.record, tt.ext, tt.rule)
		}
	}
	a, b, err := r.ExplainParties("236", "5145550100", "carrier")
	if err != nil || a != p("fin-236", "236") || b != p("carrier", "5145550100") {
		t.Errorf("ExplainParties: %+v %+v %v", a, b, err)
	}
	if _, _, err := r.ExplainParties("235", "1", "nope"); err == nil || !strings.Contains(err.Error(), "trunks: carrier, carrier2") {
		t.Errorf("ExplainParties with a bad trunk: %v", err)
	}
}

func TestWriteShow(t *testing.T) {
	r := loadCopy(t, "testdata/ok-minimal.yaml")
	var buf bytes.Buffer
	if err := r.WriteShow(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"timezone          America/Toronto\n",
		"filename          {date}-{hour}{minute}-{extension} (e.g. 20261128-0905-235.wav)\n",
		"retention         complaint 1095 days, standard 365 days\n",
		"Greffe                  greffe             Me Denis Ferland, greffier  dferland       2\n",
		"Communications et TI    235        235       Directeur\n",
		"                        245        245       Préposée – Cour municipale et guichet unique  also Greffe\n",
		"                        252        252       Directeur                                     confidential\n",
		"Finances et trésorerie  236        fin-236   Directrice\n",
		"(never_record)          899        899       Poste des détenus                             never-record\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	for i, line := range strings.Split(out, "\n") {
		if strings.TrimRight(line, " ") != line {
			t.Errorf("line %d ends with spaces: %q", i+1, line)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	errs := &rules.Errors{Errs: []*rules.Error{
		{File: "rules.yaml", Line: 12, Col: 5, Msg: `extension "235" is listed twice (first at line 8); remove one`},
		{File: "rules.yaml", Msg: "cannot read"},
	}}
	want := "rules.yaml:12:5: extension \"235\" is listed twice (first at line 8); remove one\nrules.yaml: cannot read"
	if got := errs.Error(); got != want {
		t.Errorf("got %q", got)
	}
	var one *rules.Error
	if !errors.As(errs, &one) || one.Line != 12 {
		t.Errorf("errors.As: %+v", one)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := rules.Load(filepath.Join(dir, "absent.yaml"))
	var errs *rules.Errors
	if !errors.As(err, &errs) || len(errs.Errs) != 1 || !strings.Contains(err.Error(), "absent.yaml: cannot read the rules file") {
		t.Errorf("absent file: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("# padding\n"), rules.MaxFileSize/10+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
}

// TestLoadRelativeGreeting checks that the greeting file is found next to
// the rules file, not in the current directory.
func TestLoadRelativeGreeting(t *testing.T) {
	r := loadCopy(t, "testdata/ok-minimal.yaml")
	dir := filepath.Dir(r.Source())
	if want := filepath.Join(dir, "sounds", "avis.wav"); r.Greeting().File != want {
		t.Errorf("greeting %q, want %q", r.Greeting().File, want)
	}
}

// TestDocExample checks that the example of the package documentation is
// a valid rules file.
func TestDocExample(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var example strings.Builder
	for _, line := range strings.Split(string(src), "\n") {
		if yaml, ok := strings.CutPrefix(line, "//\t"); ok {
			example.WriteString(yaml + "\n")
		}
	}
	r, err := rules.Parse("doc.go", []byte(example.String()), rulesDir(t))
	if err != nil {
		t.Fatalf("%v\n%s", err, example.String())
	}
	if d := r.Explain("5145550100", "245", "carrier"); !d.Record || d.Extension != "245" {
		t.Errorf("%+v", d)
	}
}
