package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/sandbox"
	"github.com/villedemercier/recpolicy/rules"
)

// TestInstructionsApplyWithinTheirWindow: exceptional instructions added to
// the rules file and reloaded: one suspends 236's recording now, one has
// 292 (outside Annexe A) recorded now, one suspends 237 but only from
// tomorrow. 236's external call is not recorded, 292's is (its row names
// the instruction), 237's is, as the policy says without instructions.
func TestInstructionsApplyWithinTheirWindow(t *testing.T) {
	good := keepRules(t)
	r, err := rules.Load(h.rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(r.Location())
	at := func(d time.Duration) string { return now.Add(d).Format("2006-01-02T15:04") }
	edited := strings.TrimRight(good, "\n") + fmt.Sprintf(`
instructions:
  - id: E2E-SUSPEND
    role: directeur général
    name: "Paul Gagnon"
    reference: "note de test"
    from: %s
    until: %s
    effect: suspend
    extensions: [236]
  - id: E2E-RECORD
    role: mairesse
    name: "Marie Tremblay"
    reference: "lettre de test"
    from: %s
    until: %s
    effect: record
    extensions: [292]
  - id: E2E-LATER
    role: mairesse
    name: "Marie Tremblay"
    reference: "lettre de test"
    from: %s
    until: %s
    effect: suspend
    extensions: [237]
`, at(-time.Hour), at(time.Hour), at(-time.Hour), at(time.Hour), at(24*time.Hour), at(25*time.Hour))
	const ok = `recpolicy_rules_reloads_total{result="success"}`
	before := metric(t, ok)
	writeRules(t, edited)
	for deadline := time.Now().Add(10 * time.Second); metric(t, ok) == before; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the rules with instructions were not reloaded (last reload failed: %s)", metric(t, "recpolicy_rules_last_reload_failed"))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mark := h.filedCount()
	for _, place := range []func() (*sandbox.Call, error){
		func() (*sandbox.Call, error) {
			return h.driver.Inbound(ctx, sandbox.DIDPrefix+"236", "5145550121", sandbox.Options{})
		},
		func() (*sandbox.Call, error) { return h.driver.Outbound(ctx, "292", "5145550122", sandbox.Options{}) },
		func() (*sandbox.Call, error) {
			return h.driver.Inbound(ctx, sandbox.DIDPrefix+"237", "5145550123", sandbox.Options{})
		},
	} {
		c, err := place()
		if err != nil {
			t.Fatal(err)
		}
		if err := h.driver.Talk(ctx, c, 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitFiled(t, mark, 2, 2*time.Second)
	exts := map[string]string{}
	for _, f := range h.filedSince(mark) {
		exts[f.Recording.Extension] = f.Path
	}
	if _, ok := exts["236"]; ok || exts["292"] == "" || exts["237"] == "" || len(exts) != 2 {
		t.Fatalf("recorded %v; want 292 (instruction E2E-RECORD) and 237 (E2E-LATER not in force yet), never 236 (E2E-SUSPEND)", exts)
	}
	db, err := sql.Open("postgres", h.env.PGDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rule, reason string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		err = db.QueryRow(`SELECT decision_rule, decision_reason FROM recordings WHERE path = $1`, exts["292"]).Scan(&rule, &reason)
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || rule != rules.RuleInstruction || !strings.Contains(reason, "E2E-RECORD") || !strings.Contains(reason, "Marie Tremblay") {
		t.Errorf("292's recording's evidence: rule %q, reason %q (%v)", rule, reason, err)
	}
}
