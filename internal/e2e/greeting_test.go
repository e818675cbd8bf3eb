package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/sandbox"
)

func TestGreetingProbe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	obs, err := sandbox.ObservePBX(ctx, sandbox.PBXObserverAMI)
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	c, path, err := h.driver.InboundRecorded(ctx, h.env.Root, sandbox.DIDPrefix+"235", "5145550777", sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.driver.Talk(ctx, c, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.WaitWAVClosed(ctx, path, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	a, err := sandbox.ReadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", sandbox.AnalyseHeard(a))
	g, _ := sandbox.ReadWAV(filepath.Join(h.env.Repo, sandbox.GreetingFile))
	s0, s1 := sandbox.SpeechSpan(g)
	t.Logf("greeting file %.2f s, speech %.2f-%.2f rms %.3f", g.Duration(), s0, s1, g.RMS(0, g.Duration()))
	for i := 0.0; i < a.Duration(); i += 0.1 {
		t.Logf("%.1f rms %.3f 600 %.2f 440 %.2f 480 %.2f", i, a.RMS(i, i+0.1), a.ToneShare(600, i, i+0.1), a.ToneShare(440, i, i+0.1), a.ToneShare(480, i, i+0.1))
	}
	id := obs.LinkedID("5145550777")
	cdrs, err := obs.WaitCDR(ctx, id, 5*time.Second)
	t.Log(id, obs.Greeted(id), err)
	for _, m := range cdrs {
		t.Log(m.String())
	}
	t.Log(path, c.Answered())
}
