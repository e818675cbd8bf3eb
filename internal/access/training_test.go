package access

import (
	"errors"
	"slices"
	"testing"

	"github.com/villedemercier/recpolicy/archive/register"
)

// TestTrainersPrepareTrainingCopiesOnly: a trainer sees every extension
// not bound by confidentiality, states only the training purpose, and
// gets a recording for training unless its call involved a confidential
// extension (or cannot be tied to its call yet); an administrator alike
// for that refusal; a director and anyone else never. Every answer is
// logged.
func TestTrainersPrepareTrainingCopiesOnly(t *testing.T) {
	r := cityRules(t)
	rights := Rights{Administrators: []string{"root"}, Trainers: []string{"formatrice"}}
	tr := Resolve(Identity{Login: "formatrice"}, rights, r)
	if tr.Role != RoleTrainer || !tr.MayTrain() || slices.Contains(tr.Extensions, "252") || !slices.Contains(tr.Extensions, "801") ||
		!slices.Contains(tr.Extensions, "242") || len(tr.Endpoints) != len(tr.Extensions) {
		t.Fatalf("the trainer's scope: %+v", tr)
	}
	var codes []string
	for _, p := range PurposesFor(tr) {
		codes = append(codes, p.Code)
	}
	if !slices.Equal(codes, []string{PurposeTraining}) {
		t.Errorf("a trainer's purposes: %v", codes)
	}
	for _, p := range PurposesFor(Resolve(Identity{Login: "chef"}, rights, r)) {
		if p.Training || p.AdminOnly {
			t.Errorf("a director may state %q", p.Code)
		}
	}
	tests := []struct {
		login, ref string
		ok         bool
	}{
		{"formatrice", "1", true},
		{"formatrice", "3", true},
		{"formatrice", "2", false}, // 252, confidential
		{"formatrice", "4", false}, // a call with 252
		{"formatrice", "5", false}, // not tied to its call yet
		{"root", "1", true},
		{"root", "4", false},
		{"chef", "3", false},
		{"jdoe", "1", false},
	}
	for _, tt := range tests {
		st := store()
		g := NewGuard(st, Resolve(Identity{Login: tt.login}, rights, r), "")
		rec, err := g.TrainingSource(t.Context(), "training open", tt.ref, nil)
		if tt.ok != (err == nil) {
			t.Errorf("%s on %s: %v", tt.login, tt.ref, err)
			continue
		}
		last := st.log[len(st.log)-1]
		switch {
		case tt.ok && (rec.ID == 0 || last.Outcome != register.Granted || last.Detail["purpose_code"] != PurposeTraining):
			t.Errorf("%s on %s: granted without its log: %+v", tt.login, tt.ref, last)
		case !tt.ok && (!errors.Is(err, ErrAccessDenied) || last.Outcome != register.Refused):
			t.Errorf("%s on %s: refusal %v, log %+v", tt.login, tt.ref, err, last)
		}
	}
	// A trainer hears for training, nothing else.
	g := NewGuard(store(), tr, "")
	if _, _, err := g.Listen(t.Context(), "listen", "1", "service", nil, nil); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("a trainer listening for customer service: %v", err)
	}
}
