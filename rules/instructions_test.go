package rules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/rules"
)

// TestInstructionsApplyWithinTheirWindow: a suspend turns an Annexe A
// extension's external calls off, a record turns a phone outside Annexe A
// on, a retain names the class, each within its window only, and every
// decision it changed names it.
func TestInstructionsApplyWithinTheirWindow(t *testing.T) {
	r := loadCopy(t, "testdata/ok-instructions.yaml")
	loc := r.Location()
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	carrier := rules.Party{Endpoint: "carrier", Number: "5145550100"}
	for _, c := range []struct {
		when        string
		phone       string
		record      bool
		rule, instr string
	}{
		{"2026-11-21 07:59", "245", true, rules.RuleExternalCall, ""},
		{"2026-11-21 08:00", "245", false, rules.RuleInstruction, "DG-2026-07"},
		{"2026-11-28 07:59", "245", false, rules.RuleInstruction, "DG-2026-07"},
		{"2026-11-28 08:00", "245", true, rules.RuleExternalCall, ""},
		{"2026-11-01 12:00", "290", false, rules.RuleNotAnnexeA, ""},
		{"2026-11-15 12:00", "290", true, rules.RuleInstruction, "M-2026-03"},
		{"2026-11-15 12:00", "899", false, rules.RuleNeverRecord, ""},
		{"2026-11-15 12:00", "252", true, rules.RuleExternalCall, ""},
	} {
		snap := r.At(at(c.when))
		d := snap.Decide(carrier, rules.Party{Endpoint: c.phone, Number: c.phone})
		if d.Record != c.record || d.Rule != c.rule || d.Instruction != c.instr {
			t.Errorf("%s, carrier → %s: %+v; want record %v by %s %s", c.when, c.phone, d, c.record, c.rule, c.instr)
		}
		if c.instr != "" && !strings.Contains(d.Reason, c.instr) {
			t.Errorf("%s: the reason %q does not name the instruction", c.when, d.Reason)
		}
		b := snap.DecideBridge([]rules.Party{carrier, {Endpoint: c.phone, Number: c.phone}})
		if b.Parties[1].Record != c.record {
			t.Errorf("%s, bridge carrier + %s: %+v", c.when, c.phone, b.Parties)
		}
	}
	// The rules as loaded apply no instruction.
	if d := r.Decide(carrier, rules.Party{Endpoint: "245", Number: "245"}); !d.Record {
		t.Errorf("the rules without At: %+v", d)
	}
	if class, id := r.RetentionClassAt("252", at("2026-11-06 10:00")); class != "litigation" || id != "M-2026-04" {
		t.Errorf("252 during M-2026-04: %s %s", class, id)
	}
	if class, _ := r.RetentionClassAt("252", at("2026-11-13 10:00")); class != "" {
		t.Errorf("252 after M-2026-04: %s", class)
	}
	if n := len(r.Instructions()); n != 3 {
		t.Errorf("%d instructions", n)
	}
}
