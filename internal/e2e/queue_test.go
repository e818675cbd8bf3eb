package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// An external call to the call queue is recorded on the member that
// answers, whole, whether the queue dials it directly or through a Local
// channel (FreePBX style); the member that only rang leaves nothing.
func TestQueueRecordsTheMemberThatAnswered(t *testing.T) {
	for _, tc := range []struct{ answerer, ringing string }{{"235", "250"}, {"250", "235"}} {
		t.Run(tc.answerer, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := h.driver.SetPhone(ctx, tc.ringing, "noanswer", 0); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { h.driver.ResetPhones(context.Background()) })
			mark := h.filedCount()
			call := placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
				return h.driver.Inbound(ctx, sandbox.QueueNumber, callerNumber(), sandbox.Options{Answerers: []string{tc.answerer}})
			}, 3*time.Second)
			oneWholeRecording(t, mark, tc.answerer, call)
		})
	}
}
