package register

import (
	"errors"
	"testing"
	"time"
)

// TestOpinions: a request is decided when the two sides' latest opinions
// agree, given by two distinct people; until then it stays received.
func TestOpinions(t *testing.T) {
	s, st := chainStore(t)
	var recID int64
	if err := st.DB().QueryRow(`INSERT INTO recordings (path, sha256, size, duration, extension, start_time, uniqueid, linkedid, retention_class)
VALUES ('/a/b.wav', repeat('a', 64), 1, 1, '235', now(), 'u', 'l', 'standard') RETURNING id`).Scan(&recID); err != nil {
		t.Fatal(err)
	}
	r, err := s.AddRequest(t.Context(), AccessRequest{ReceivedOn: time.Now().Truncate(24 * time.Hour), Channel: "courriel", Requester: "X",
		Purpose: "plainte", Subject: "s", Recordings: []int64{recID}, RegisteredBy: "mlaroche"})
	if err != nil {
		t.Fatal(err)
	}
	step := func(side, login string, grant bool, want string) {
		t.Helper()
		got, err := s.GiveOpinion(t.Context(), r.ID, side, login, grant, "motifs de "+login)
		if err != nil || got.Status != want {
			t.Fatalf("%s by %s: %s %v, want %s", side, login, got.Status, err, want)
		}
	}
	step(SideIT, "mlaroche", true, RequestReceived)
	step(SideGreffe, "mgreffe", false, RequestReceived) // they disagree: still received
	if _, err := s.GiveOpinion(t.Context(), r.ID, SideGreffe, "mlaroche", true, "x"); !errors.Is(err, ErrSamePerson) {
		t.Fatalf("one person on both sides: %v", err)
	}
	step(SideGreffe, "mgreffe", true, RequestGranted) // the Greffe changes its mind: decided
	got, _ := s.GetRequest(t.Context(), r.ID)
	if got.DecidedBy != "mlaroche" || got.GreffeReviewer != "mgreffe" || got.DecisionNote != "motifs de mlaroche — Greffe : motifs de mgreffe" {
		t.Errorf("decision %+v", got)
	}
	if _, err := s.GiveOpinion(t.Context(), r.ID, SideIT, "mlaroche", false, "x"); !errors.Is(err, ErrRequestState) {
		t.Errorf("opinion after the decision: %v", err)
	}
	ops, _ := s.Opinions(t.Context(), r.ID)
	if len(ops) != 3 {
		t.Errorf("%d opinions kept, want 3", len(ops))
	}
}
