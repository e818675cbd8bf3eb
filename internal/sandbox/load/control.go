package main

import (
	"context"
	"fmt"
	"path/filepath"
)

// controlStats compares, call by call, three recordings of one call: the
// daemon's and the control's (both on the extension's channel, the
// control a dialplan MixMonitor started before the dial) and the
// baseline's (on the carrier's channel). Two recorders Asterisk runs the
// same way on one call differ only by what the PBX drops: the control
// against the baseline is that noise, the daemon against the control what
// the daemon loses on its own channel.
type controlStats struct {
	sec     float64 // the control's audio, every call measured
	missing int     // calls with no control recording
	// worst ratios: control/baseline and daemon/control.
	worstCB, worstDC float64
	// calls under the per-call ratio: control under the baseline, the
	// baseline under the control; the daemon under the control, the
	// control under the daemon.
	cbUnder, cbOver, dcUnder, dcOver int
	// shared counts the calls under the per-call ratio of the baseline
	// whose control is under it too: what Asterisk's own recorder of the
	// daemon's channel lost as well.
	shared int
}

func newControlStats() controlStats { return controlStats{worstCB: 1, worstDC: 1} }

// add counts one call's audio seconds: the daemon's, the baseline's and
// the control's (negative: no control recording).
func (c *controlStats) add(daemon, base, ctl, minRatio float64) {
	if ctl < 0 {
		c.missing++
		return
	}
	c.sec += ctl
	under := func(a, b float64) bool { return b > 0 && a/b < minRatio }
	if base > 0 {
		c.worstCB = min(c.worstCB, ctl/base)
	}
	if ctl > 0 {
		c.worstDC = min(c.worstDC, daemon/ctl)
	}
	if under(ctl, base) {
		c.cbUnder++
	}
	if under(base, ctl) {
		c.cbOver++
	}
	if under(daemon, ctl) {
		c.dcUnder++
	}
	if under(ctl, daemon) {
		c.dcOver++
	}
	if under(daemon, base) && under(ctl, base) {
		c.shared++
	}
}

// controlSeconds returns the audio seconds of a call's control recording
// (docker/asterisk/pbx/extensions.conf, [load-control]) once Asterisk has
// closed it, or -1 when there is none.
func controlSeconds(ctx context.Context, baseDir, linkedid string) float64 {
	sec, err := closedWAVSeconds(ctx, filepath.Join(baseDir, linkedid+"-control.wav"))
	if err != nil {
		say("warning: control recording of %s: %v", linkedid, err)
		return -1
	}
	return sec
}

// reportRow is one line of the report: its name and each wave's value.
type reportRow struct {
	name string
	f    func(r *waveResult) string
}

// controlRows are the report's lines on the control.
func controlRows(minRatio float64) []reportRow {
	return []reportRow{
		{"control audio (dialplan, extension's channel)", func(r *waveResult) string {
			return fmt.Sprintf("%.2f s (%d missing)", r.ctl.sec, r.ctl.missing)
		}},
		{"ratio control/baseline", func(r *waveResult) string {
			if r.baseSec <= 0 {
				return "n/a"
			}
			return fmt.Sprintf("%.5f", r.ctl.sec/r.baseSec)
		}},
		{"worst call control/baseline, daemon/control", func(r *waveResult) string {
			return fmt.Sprintf("%.4f, %.4f", r.ctl.worstCB, r.ctl.worstDC)
		}},
		{fmt.Sprintf("calls under %.2f: control/baseline, baseline/control", minRatio), func(r *waveResult) string {
			return fmt.Sprintf("%d/%d", r.ctl.cbUnder, r.ctl.cbOver)
		}},
		{fmt.Sprintf("calls under %.2f: daemon/control, control/daemon", minRatio), func(r *waveResult) string {
			return fmt.Sprintf("%d/%d", r.ctl.dcUnder, r.ctl.dcOver)
		}},
		{fmt.Sprintf("daemon's calls under %.2f of the baseline, the control's too", minRatio), func(r *waveResult) string {
			return fmt.Sprintf("%d of %d", r.ctl.shared, r.under)
		}},
	}
}
