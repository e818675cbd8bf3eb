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
	ts := newTrainings()
	t0 := time.Unix(1_800_000_000, 0)
	id := ts.open("s", archive.StoredRecording{}, "tk", 60*time.Second, t0)
	tr, ok := ts.get(id, "s", t0)
	if !ok {
		t.Fatal("the training session is not found")
	}
	if _, ok := ts.get(id, "other session", t0); ok {
		t.Error("another console session reached this training")
	}
	// A hundred reports 10 ms apart, each claiming a second more: at most
	// the initial second and double the second of wall time count.
	var c coverageJSON
	for i := range 100 {
		c = ts.hear(tr, [][2]float64{{float64(i), float64(i + 1)}}, t0.Add(time.Duration(i+1)*10*time.Millisecond))
	}
	if c.Heard > 3.01 || c.Complete {
		t.Fatalf("reports sent often counted %.2f s heard after 1 s of wall time", c.Heard)
	}
	// Played through at normal speed, reported each quarter second.
	tr2, _ := ts.get(ts.open("s", archive.StoredRecording{}, "tk", 60*time.Second, t0), "s", t0)
	for i := range 240 {
		from := float64(i) / 4
		c = ts.hear(tr2, [][2]float64{{from, from + 0.25}, {-5, -1}, {math.NaN(), 3}}, t0.Add(time.Duration(i+1)*250*time.Millisecond))
	}
	if !c.Complete || math.Abs(c.Heard-60) > 1e-9 || c.Refused != 0 {
		t.Fatalf("a call played through: %+v", c)
	}
	// A gap longer than maxGap is said.
	tr3, _ := ts.get(ts.open("s", archive.StoredRecording{}, "tk", 10*time.Second, t0), "s", t0)
	c = ts.hear(tr3, [][2]float64{{0, 4}, {4.2, 6}, {7, 10}}, t0.Add(time.Minute))
	if c.Complete || len(c.Missing) != 1 || c.Missing[0] != [2]float64{6, 7} {
		t.Fatalf("a second unheard: %+v", c)
	}
	ts.endSession("s")
	if _, ok := ts.get(id, "s", t0); ok {
		t.Error("a logged-out session's training lives on")
	}
}
