package rules_test

import (
	"testing"

	"github.com/villedemercier/recpolicy/rules"
)

func TestDecideBridge(t *testing.T) {
	r := loadCopy(t, "testdata/ok-minimal.yaml")
	ext := func(n string) rules.Party { return p(n, n) }
	carrier := p("carrier", "5145550100")
	tests := []struct {
		name     string
		parties  []rules.Party
		recorded []bool
		veto     bool
		conf     bool
	}{
		{"inbound: the extension", []rules.Party{carrier, ext("235")}, []bool{false, true}, false, false},
		{"conference of two extensions and an outside caller", []rules.Party{carrier, ext("235"), ext("245")}, []bool{false, true, true}, false, false},
		{"two extensions and a phone outside Annexe A: internal", []rules.Party{ext("235"), ext("245"), ext("299")}, []bool{false, false, false}, false, false},
		{"the detainee phone joins: vetoed", []rules.Party{carrier, ext("235"), p("899", "899")}, []bool{false, false, false}, true, false},
		{"a caller presenting 899 joins: nothing vetoed", []rules.Party{carrier, ext("235"), p("carrier2", "899")}, []bool{false, true, false}, false, false},
		{"a confidential extension takes part", []rules.Party{carrier, ext("252"), ext("235")}, []bool{false, true, true}, false, true},
		{"one party alone", []rules.Party{ext("235")}, []bool{false}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bd := r.DecideBridge(tt.parties)
			if (bd.Veto != nil) != tt.veto || bd.Confidential != tt.conf || len(bd.Parties) != len(tt.parties) || len(bd.Classes) != len(tt.parties) {
				t.Fatalf("veto %v confidential %v parties %d: %+v", bd.Veto != nil, bd.Confidential, len(bd.Parties), bd)
			}
			any := false
			for i, d := range bd.Parties {
				if d.Record != tt.recorded[i] {
					t.Errorf("party %d (%v): record %v, want %v (%+v)", i, tt.parties[i], d.Record, tt.recorded[i], d)
				}
				if d.Record && d.Extension != tt.parties[i].Number {
					t.Errorf("party %d recorded as %s", i, d.Extension)
				}
				if len(tt.parties) > 1 && d.Rule == "" {
					t.Errorf("party %d has no reason: %+v", i, d)
				}
				any = any || d.Record
			}
			if bd.Recorded() != any {
				t.Errorf("Recorded() = %v", bd.Recorded())
			}
			// With two parties, it is Decide seen from each side.
			if len(tt.parties) == 2 {
				d := r.Decide(tt.parties[0], tt.parties[1])
				if d.Record != bd.Recorded() || d.Rule != bd.Parties[0].Rule && d.Rule != bd.Parties[1].Rule {
					t.Errorf("two parties: Decide %+v, DecideBridge %+v", d, bd.Parties)
				}
			}
		})
	}
}
