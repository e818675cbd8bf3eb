package rules_test

import (
	"strings"
	"testing"

	"github.com/villedemercier/recpolicy/rules"
)

// p makes a party.
func p(endpoint, number string) rules.Party {
	return rules.Party{Endpoint: endpoint, Number: number}
}

func TestClassify(t *testing.T) {
	r := loadCopy(t, "testdata/ok-minimal.yaml")
	tests := []struct {
		name  string
		party rules.Party
		kind  rules.Kind
		ext   string
	}{
		{"trunk", p("carrier", "5145550100"), rules.KindExternal, ""},
		{"second trunk, withheld", p("carrier2", ""), rules.KindExternal, ""},
		{"extension by endpoint", p("235", "235"), rules.KindExtension, "235"},
		{"extension, other caller ID", p("235", "4505551234"), rules.KindExtension, "235"},
		{"extension with its own endpoint", p("fin-236", "236"), rules.KindExtension, "236"},
		{"endpoint named like an extension whose endpoint differs", p("236", "236"), rules.KindInternal, ""},
		{"city phone outside Annexe A", p("299", "299"), rules.KindInternal, ""},
		{"endpoints are case-sensitive", p("Carrier", ""), rules.KindInternal, ""},
		{"local, external number", p("", "5145550100"), rules.KindExternal, ""},
		{"local, outside line prefix", p("", "95145550100"), rules.KindExternal, ""},
		{"local, Annexe A number", p("", "252"), rules.KindExtension, "252"},
		{"local, spaces", p(" ", " 252 "), rules.KindExtension, "252"},
		{"local, unknown short number", p("", "299"), rules.KindInternal, ""},
		{"local, withheld", p("", ""), rules.KindInternal, ""},
		{"local, anonymous", p("", "anonymous"), rules.KindInternal, ""},
		{"detainee phone", p("899", "899"), rules.KindNeverRecord, ""},
		{"detainee phone, withheld", p("899", ""), rules.KindNeverRecord, ""},
		{"detainee phone, other caller ID", p("899", "5145550100"), rules.KindNeverRecord, ""},
		{"detainee number on a local channel", p("", "899"), rules.KindNeverRecord, ""},
		{"detainee number presented on a trunk", p("carrier", "899"), rules.KindExternal, ""},
		{"detainee number presented by an extension's phone", p("235", "899"), rules.KindExtension, "235"},
		{"detainee number written +899", p("", "+899"), rules.KindNeverRecord, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := r.Classify(tt.party)
			if c.Kind != tt.kind || c.Extension != tt.ext || c.Rule == "" {
				t.Errorf("Classify(%+v) = %+v, want kind %v extension %q", tt.party, c, tt.kind, tt.ext)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	r := loadCopy(t, "testdata/ok-minimal.yaml")
	tests := []struct {
		name   string
		a, b   rules.Party
		record bool
		ext    string
		rule   string
	}{
		{"inbound on a trunk", p("carrier", "5145550100"), p("235", "235"), true, "235", rules.RuleExternalCall},
		{"inbound, withheld number", p("carrier", ""), p("235", "235"), true, "235", rules.RuleExternalCall},
		{"outbound by trunk", p("235", "235"), p("carrier", "95145550100"), true, "235", rules.RuleExternalCall},
		{"outbound on the second trunk", p("245", "245"), p("carrier2", "18005551234"), true, "245", rules.RuleExternalCall},
		{"outbound by dialled number on a local channel", p("235", "235"), p("", "95145550100"), true, "235", rules.RuleExternalCall},
		{"outbound, E.164-less NANP number", p("", "5145550100"), p("252", "252"), true, "252", rules.RuleExternalCall},
		{"extension known by number only", p("", "235"), p("carrier", "5145550100"), true, "235", rules.RuleExternalCall},
		{"extension with its own endpoint", p("fin-236", "236"), p("carrier", "5145550100"), true, "236", rules.RuleExternalCall},
		{"internal between Annexe A extensions", p("235", "235"), p("252", "252"), false, "", rules.RuleInternalCall},
		{"internal with a phone outside Annexe A", p("299", "299"), p("235", "235"), false, "", rules.RuleInternalCall},
		{"internal, dialled by number", p("235", "235"), p("", "252"), false, "", rules.RuleInternalCall},
		{"internal between phones outside Annexe A", p("298", "298"), p("299", "299"), false, "", rules.RuleInternalCall},
		{"local withheld with an extension", p("", ""), p("235", "235"), false, "", rules.RuleInternalCall},
		{"phone outside Annexe A with a trunk", p("299", "299"), p("carrier", "5145550100"), false, "", rules.RuleNotAnnexeA},
		{"trunk to trunk", p("carrier", "5145550100"), p("carrier2", "4505551234"), false, "", rules.RuleNotAnnexeA},
		{"endpoint 236 is not extension 236", p("236", "236"), p("carrier", "5145550100"), false, "", rules.RuleNotAnnexeA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, pair := range [][2]rules.Party{{tt.a, tt.b}, {tt.b, tt.a}} {
				d := r.Decide(pair[0], pair[1])
				if d.Record != tt.record || d.Extension != tt.ext || d.Rule != tt.rule || d.Reason == "" {
					t.Errorf("Decide(%+v, %+v) = %+v, want record %v extension %q rule %s", pair[0], pair[1], d, tt.record, tt.ext, tt.rule)
				}
			}
		})
	}
}

func TestDecideReason(t *testing.T) {
	r := loadCopy(t, "mercier.yaml")
	d := r.Decide(p("carrier", "5145550100"), p("235", "235"))
	want := "external party carrier (5145550100) with Annexe A extension 235 (Communications et TI – Directeur)"
	if d.Reason != want {
		t.Errorf("reason %q\nwant   %q", d.Reason, want)
	}
	d = r.Decide(p("245", "245"), p("carrier", "5145550100"))
	want = "external party carrier (5145550100) with Annexe A extension 245 (Greffe / Communications et TI – Préposée – Cour municipale et guichet unique)"
	if d.Reason != want {
		t.Errorf("reason %q\nwant   %q", d.Reason, want)
	}
	d = r.Decide(p("899", "899"), p("carrier", "5145550100"))
	if !strings.HasPrefix(d.Reason, "899 is never recorded (never_record endpoint 899: Poste réservé aux détenus") {
		t.Errorf("reason %q", d.Reason)
	}
}

func TestDecideConfidential(t *testing.T) {
	r := loadCopy(t, "testdata/ok-minimal.yaml")
	for _, pair := range [][2]rules.Party{{p("carrier", "5145550100"), p("252", "252")}, {p("252", "252"), p("", "95145550100")}} {
		d := r.Decide(pair[0], pair[1])
		if strings.Contains(d.Reason, "514555") || !strings.Contains(d.Reason, "xxxxxxx") {
			t.Errorf("reason %q shows a confidential extension's correspondent", d.Reason)
		}
	}
	if got := rules.MaskNumber("+1 514-555-0100"); got != "+x xxx-xxx-xx00" {
		t.Errorf("MaskNumber = %q", got)
	}
	if d := r.Decide(p("carrier", "5145550100"), p("252", "252")); !d.Record || !d.Confidential {
		t.Errorf("252: %+v, want recorded and confidential", d)
	}
	if d := r.Decide(p("carrier", "5145550100"), p("235", "235")); !d.Record || d.Confidential {
		t.Errorf("235: %+v, want recorded, not confidential", d)
	}
}

// TestPresentedNumberNeverDecides: a party with an endpoint of its own is
// what its endpoint is, whatever number it presents. A caller on a carrier
// trunk presenting the detainee phone's number, an Annexe A number or an
// internal number is external, and its call with an Annexe A extension is
// recorded; a phone presenting another phone's number is still itself.
func TestPresentedNumberNeverDecides(t *testing.T) {
	for _, file := range []string{"mercier.yaml", "testdata/ok-minimal.yaml"} {
		r := loadCopy(t, file)
		spoofs := []string{"899", "+899", "8 99", "235", "250", "252", "299", "", "5145550100"}
		for _, e := range r.Extensions() {
			spoofs = append(spoofs, e.Number)
		}
		for _, tr := range r.Trunks() {
			for _, num := range spoofs {
				caller := p(tr, num)
				if c := r.Classify(caller); c.Kind != rules.KindExternal || c.By != rules.ByEndpoint {
					t.Errorf("%s: Classify(%+v) = %+v, want external by endpoint", file, caller, c)
				}
				for _, pair := range [][2]rules.Party{{caller, p("235", "235")}, {p("235", "235"), caller}} {
					if d := r.Decide(pair[0], pair[1]); !d.Record || d.Extension != "235" || d.Rule != rules.RuleExternalCall {
						t.Errorf("%s: Decide(%+v, %+v) = %+v, want 235 recorded", file, pair[0], pair[1], d)
					}
				}
			}
		}
		// A phone outside Annexe A presenting 899 or an Annexe A number.
		for _, num := range []string{"899", "235", "5145550100"} {
			if c := r.Classify(p("299", num)); c.Kind != rules.KindInternal || c.By != rules.ByEndpoint {
				t.Errorf("%s: Classify(299 presenting %s) = %+v, want internal by endpoint", file, num, c)
			}
		}
		// An Annexe A phone presenting the detainee's number is itself.
		if c := r.Classify(p("235", "899")); c.Kind != rules.KindExtension || c.Extension != "235" {
			t.Errorf("%s: Classify(235 presenting 899) = %+v, want extension 235", file, c)
		}
	}
}

// TestSiteLinkTrustsCityNumbersOnly: on a trunk to another city PBX site,
// the presented number decides when it is a city number, and makes the
// party external otherwise.
func TestSiteLinkTrustsCityNumbersOnly(t *testing.T) {
	r := loadCopy(t, "testdata/ok-site-link.yaml")
	tests := []struct {
		num  string
		kind rules.Kind
		ext  string
	}{
		{"899", rules.KindNeverRecord, ""},
		{"235", rules.KindExtension, "235"},
		{"812", rules.KindInternal, ""},
		{"5145550100", rules.KindExternal, ""},
		{"95145550100", rules.KindExternal, ""},
		{"777", rules.KindExternal, ""},
		{"", rules.KindExternal, ""},
	}
	for _, tt := range tests {
		c := r.Classify(p("poste-police", tt.num))
		if c.Kind != tt.kind || c.Extension != tt.ext || c.By != rules.BySiteLink || c.Rule == "" {
			t.Errorf("Classify(poste-police presenting %q) = %+v, want %v %q by site link", tt.num, c, tt.kind, tt.ext)
		}
	}
	// A police phone calling city hall over the link is an internal call;
	// the detainee phone over the link is never recorded; an outside
	// caller the police PBX passes on is external.
	if d := r.Decide(p("poste-police", "812"), p("235", "235")); d.Record || d.Rule != rules.RuleInternalCall {
		t.Errorf("site phone with 235: %+v, want internal", d)
	}
	if d := r.Decide(p("poste-police", "899"), p("235", "235")); d.Record || d.Rule != rules.RuleNeverRecord {
		t.Errorf("detainee over the link with 235: %+v, want never-record", d)
	}
	if d := r.Decide(p("poste-police", "5145550100"), p("235", "235")); !d.Record || d.Extension != "235" {
		t.Errorf("outside caller over the link with 235: %+v, want recorded", d)
	}
}

// TestDetaineePhoneNeverRecorded pairs the detainee-to-lawyer phone, as
// every party it could appear as, with every party of the city file.
func TestDetaineePhoneNeverRecorded(t *testing.T) {
	for _, file := range []string{"mercier.yaml", "testdata/ok-minimal.yaml"} {
		r := loadCopy(t, file)
		detainee := []rules.Party{
			p("899", "899"), p("899", ""), p("899", "5145550100"), p("899", "235"),
			p("", "899"), p("", "+899"),
		}
		others := []rules.Party{
			p("carrier", "5145550100"), p("carrier", ""), p("", "5145550100"), p("", "95145550100"),
			p("", ""), p("299", "299"), p("899", "899"),
		}
		for _, e := range r.Extensions() {
			others = append(others, p(e.Endpoint, e.Number), p("", e.Number))
		}
		for _, tr := range r.Trunks() {
			others = append(others, p(tr, "18005551234"))
		}
		for _, d := range detainee {
			for _, o := range others {
				for _, pair := range [][2]rules.Party{{d, o}, {o, d}} {
					dec := r.Decide(pair[0], pair[1])
					if dec.Record || dec.Rule != rules.RuleNeverRecord {
						t.Errorf("%s: Decide(%+v, %+v) = %+v, want never-record", file, pair[0], pair[1], dec)
					}
				}
			}
		}
	}
}

// TestEveryAnnexeExtensionRecorded checks both directions of an external
// call for every extension of the city file.
func TestEveryAnnexeExtensionRecorded(t *testing.T) {
	r := loadCopy(t, "mercier.yaml")
	for _, e := range r.Extensions() {
		in := r.Decide(p("carrier", "5145550100"), p(e.Endpoint, e.Number))
		out := r.Decide(p(e.Endpoint, e.Number), p("carrier", "918005551234"))
		for _, d := range []rules.Decision{in, out} {
			if !d.Record || d.Extension != e.Number || d.Rule != rules.RuleExternalCall {
				t.Errorf("extension %s: %+v, want recorded", e.Number, d)
			}
		}
		if d := r.Decide(p(e.Endpoint, e.Number), p("235", "235")); d.Record {
			t.Errorf("internal call %s–235 recorded: %+v", e.Number, d)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[rules.Kind]string{
		rules.KindInternal: "internal", rules.KindExtension: "extension",
		rules.KindExternal: "external", rules.KindNeverRecord: "never-record", rules.Kind(9): "Kind(9)",
	} {
		if got := k.String(); got != want {
			t.Errorf("%d: %q, want %q", int(k), got, want)
		}
	}
}
