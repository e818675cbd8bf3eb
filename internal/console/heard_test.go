package console

import (
	"math"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/archive"
)

// TestHeardCountsWhatWallTimeAllows: what the player reports is cut to the
// call and to double speed over wall time, however often it reports; the
// call counts as heard when no stretch over maxGap is left.
func TestHeardCountsWhatWallTimeAllows(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	// A hundred reports 10 ms apart, each claiming a second more: at most
	// the initial second and double the second of wall time count.
	tr := newTraining(archive.StoredRecording{}, "tk", 60*time.Second, t0)
	var c coverageJSON
	for i := range 100 {
		c = tr.hear([][2]float64{{float64(i), float64(i + 1)}}, t0.Add(time.Duration(i+1)*10*time.Millisecond))
	}
	if c.Heard > 3.01 || c.Complete {
		t.Fatalf("reports sent often counted %.2f s heard after 1 s of wall time", c.Heard)
	}
	// Played through at normal speed, reported each quarter second.
	tr2 := newTraining(archive.StoredRecording{}, "tk", 60*time.Second, t0)
	for i := range 240 {
		from := float64(i) / 4
		c = tr2.hear([][2]float64{{from, from + 0.25}, {-5, -1}, {math.NaN(), 3}}, t0.Add(time.Duration(i+1)*250*time.Millisecond))
	}
	if !c.Complete || math.Abs(c.Heard-60) > 1e-9 || c.Refused != 0 || !tr2.coverage().Complete {
		t.Fatalf("a call played through: %+v", c)
	}
	// A gap longer than maxGap is said.
	tr3 := newTraining(archive.StoredRecording{}, "tk", 10*time.Second, t0)
	c = tr3.hear([][2]float64{{0, 4}, {4.2, 6}, {7, 10}}, t0.Add(time.Minute))
	if c.Complete || len(c.Missing) != 1 || c.Missing[0] != [2]float64{6, 7} {
		t.Fatalf("a second unheard: %+v", c)
	}
}

// TestSessionStore: a value is for its own session only, expires after its
// life unless extended, is forgotten at logout, and a full store makes
// room by dropping the expired, then the one nearest to expiring.
func TestSessionStore(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	s := newSessionStore[int](time.Minute, 2)
	a := s.add("s1", 1, t0)
	if v, ok := s.get(a, "s1", t0.Add(59*time.Second)); !ok || v != 1 {
		t.Fatalf("get = %d, %v", v, ok)
	}
	if _, ok := s.get(a, "s2", t0); ok {
		t.Error("another session reached the value")
	}
	if _, ok := s.get(a, "s1", t0.Add(61*time.Second)); ok {
		t.Error("an expired value was returned")
	}
	s.extend(a, "s1", t0.Add(50*time.Second))
	if _, ok := s.get(a, "s1", t0.Add(100*time.Second)); !ok {
		t.Error("an extended value expired")
	}
	b := s.add("s1", 2, t0.Add(10*time.Second))
	c := s.add("s2", 3, t0.Add(20*time.Second)) // full: b, the nearest to expiring, goes
	if _, ok := s.get(b, "s1", t0.Add(20*time.Second)); ok {
		t.Error("the full store kept the value nearest to expiring")
	}
	if _, ok := s.get(a, "s1", t0.Add(20*time.Second)); !ok {
		t.Error("the full store dropped the extended value")
	}
	s.endSession("s1")
	if _, ok := s.get(a, "s1", t0.Add(20*time.Second)); ok {
		t.Error("a logged-out session's value lives on")
	}
	if _, ok := s.get(c, "s2", t0.Add(20*time.Second)); !ok {
		t.Error("another session's value went at logout")
	}
	s.prune(t0.Add(time.Hour))
	if len(s.m) != 0 {
		t.Errorf("%d values left after they all expired", len(s.m))
	}
}
