package main

import "testing"

func TestControlStatsAdd(t *testing.T) {
	c := newControlStats()
	for _, call := range []struct{ daemon, base, ctl float64 }{
		{3.00, 3.00, 3.00}, // all three alike
		{2.90, 3.00, 3.00}, // the daemon short of both
		{3.00, 3.00, 2.80}, // the control short: noise
		{3.00, 2.80, 3.00}, // the baseline short
		{3.00, 3.00, -1},   // no control recording
		{0.00, 3.00, 0.00}, // both empty on the extension's channel
	} {
		c.add(call.daemon, call.base, call.ctl, 0.98)
	}
	want := controlStats{sec: 11.8, missing: 1, worstCB: 0, worstDC: 2.9 / 3.0,
		cbUnder: 2, cbOver: 1, dcUnder: 1, dcOver: 1, shared: 1}
	if c.shared != want.shared || c.missing != want.missing || c.cbUnder != want.cbUnder || c.cbOver != want.cbOver ||
		c.dcUnder != want.dcUnder || c.dcOver != want.dcOver {
		t.Errorf("counts = %+v, want %+v", c, want)
	}
	if d := c.sec - want.sec; d > 1e-9 || d < -1e-9 {
		t.Errorf("sec = %v, want %v", c.sec, want.sec)
	}
	if c.worstCB != want.worstCB || c.worstDC != want.worstDC {
		t.Errorf("worst = %v, %v; want %v, %v", c.worstCB, c.worstDC, want.worstCB, want.worstDC)
	}
}
