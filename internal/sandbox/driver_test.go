package sandbox

import (
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/ami"
)

// TestAnswerGoesToTheCallThatPresentsTheNumber: two calls to one phone
// reach it out of the order they were placed in (the first caller heard the
// greeting twice); each answer goes to the call whose number it shows, and
// an answer showing no known number to the oldest call, as before.
func TestAnswerGoesToTheCallThatPresentsTheNumber(t *testing.T) {
	tests := []struct {
		name      string
		callerNum string // shown with the answer
		want      string // the call answered
	}{
		{"the later call's number", "5146000002", "second"},
		{"the earlier call's number", "5146000001", "first"},
		{"a rewritten number", "+15146000002", "first"},
		{"no number", "", "first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &Driver{calls: map[string]*Call{}, byAnswer: map[string]*Call{}, upAt: map[string]time.Time{}}
			first := newCall("first", SidePhone, []string{"803"})
			first.callerNum = "5146000001"
			second := newCall("second", SidePhone, []string{"803"})
			second.callerNum = "5146000002"
			other := newCall("other", SidePhone, []string{"804"})
			other.callerNum = tt.callerNum
			d.pending = []*Call{other, first, second}
			d.event(ami.NewMessage(
				ami.Header{Key: "Event", Value: "UserEvent"}, ami.Header{Key: "UserEvent", Value: "SimAnswered"},
				ami.Header{Key: "Side", Value: "phone"}, ami.Header{Key: "SimExten", Value: "803"},
				ami.Header{Key: "CallerNum", Value: tt.callerNum}, ami.Header{Key: "Uniqueid", Value: "sim-1"}))
			byID := map[string]*Call{"first": first, "second": second}
			for id, c := range byID {
				answered := !c.Answered().IsZero()
				if answered != (id == tt.want) {
					t.Errorf("call %s answered: %v; want only %s", id, answered, tt.want)
				}
			}
			if !other.Answered().IsZero() || len(d.pending) != 2 {
				t.Errorf("a call to another phone answered, or %d calls pending (want 2)", len(d.pending))
			}
		})
	}
}
