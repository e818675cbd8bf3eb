package main

import (
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/ami"
)

func TestLateStartSkipsTheControl(t *testing.T) {
	ev := func(name, ts string) *ami.Message {
		return ami.NewMessage(ami.Header{Key: "Event", Value: name}, ami.Header{Key: "Channel", Value: "PJSIP/235-00000001"},
			ami.Header{Key: "Uniqueid", Value: "pbx-1.2"}, ami.Header{Key: "Linkedid", Value: "pbx-1.1"}, ami.Header{Key: "Timestamp", Value: ts})
	}
	for _, tc := range []struct {
		name string
		skip int
		want time.Duration
	}{
		{"no control: the first start is the daemon's", 0, 0},
		{"control: its start (before the bridge) is skipped", 1, 250 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newObserver(map[string]string{"235": "235"}, tc.skip)
			o.event(ev("MixMonitorStart", "100.000"))
			o.event(ev("BridgeEnter", "101.000"))
			o.event(ev("MixMonitorStart", "101.250"))
			got, ok := o.lateStart("pbx-1.2")
			if !ok || got.Round(time.Millisecond) != tc.want {
				t.Errorf("lateStart = %v, %v; want %v", got, ok, tc.want)
			}
		})
	}
}
