package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// observer watches the PBX through its test AMI user (never the daemon's):
// which call (linkedid) each caller number started, and which Annexe A
// extension channels entered a bridge — the calls an Annexe A extension
// answered — with how many were bridged at once.
type observer struct {
	client *ami.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup

	endpoints map[string]string // PJSIP endpoint → Annexe A extension number

	mu        sync.Mutex
	byCaller  map[string]string       // carrier caller number, or number an extension dialled out → linkedid
	answered  map[string]*answer      // linkedid → the Annexe A leg that was bridged
	inBridge  map[string]bool         // extension channel uniqueid → in a bridge now
	bridgedAt map[string]time.Time    // extension channel uniqueid → BridgeEnter time
	spans     map[string][2]time.Time // linkedid → extension leg's bridge enter, leave
	cur, peak int
	// Per extension channel (uniqueid): the PBX's time of its first
	// BridgeEnter (event Timestamp) and of its recording's start: its first
	// MixMonitorStart, or for the snoop backend the latest of its parts'
	// first ARI RecordingStarted (partTS: uniqueid+part → first start).
	enterTS, recTS, partTS map[string]float64
	// leaveTS is the PBX's time when that channel left its bridge or hung up.
	leaveTS map[string]float64
	// skipStarts is how many MixMonitorStart events of each extension
	// channel are not the daemon's: 1 with -control, whose MixMonitor the
	// dialplan starts on that channel before the dial (so before the
	// daemon's, which waits for DialBegin); starts counts them.
	skipStarts int
	starts     map[string]int
	// outbound: the wave's extensions call out, and the baseline's
	// MixMonitor runs on the extension's channel, started before the dial:
	// its MixMonitorStart comes first instead (no control runs then).
	outbound bool
}

// answer is an Annexe A extension's channel that entered a bridge.
type answer struct {
	Extension, Channel, Uniqueid string
}

// newObserver returns an observer with its bookkeeping empty and no AMI
// session (observePBX connects it).
func newObserver(endpoints map[string]string, skipStarts int) *observer {
	return &observer{endpoints: endpoints,
		byCaller: map[string]string{}, answered: map[string]*answer{}, inBridge: map[string]bool{},
		bridgedAt: map[string]time.Time{}, spans: map[string][2]time.Time{},
		enterTS: map[string]float64{}, recTS: map[string]float64{}, partTS: map[string]float64{}, leaveTS: map[string]float64{},
		skipStarts: skipStarts, starts: map[string]int{}}
}

func observePBX(ctx context.Context, endpoints map[string]string, skipStarts int) (*observer, error) {
	cfg := sandbox.PBXObserverAMI
	cfg.Events = "call"
	// Only the events read here (and the AMI client's notices): the
	// harness must not load the PBX it measures.
	cfg.Filter = `Event: (Newchannel|BridgeEnter|BridgeLeave|MixMonitorStart|Hangup|FullyBooted|Shutdown)[[:space:]]`
	cfg.ActionTimeout, cfg.PingInterval = 30*time.Second, 10*time.Second
	cctx, cancel := context.WithCancel(context.Background())
	o := newObserver(endpoints, skipStarts)
	o.client, o.cancel = ami.NewClient(cfg, zerolog.Nop()), cancel
	connected := make(chan struct{})
	var once sync.Once
	o.wg.Add(2)
	go func() { defer o.wg.Done(); _ = o.client.Run(cctx) }()
	go func() {
		defer o.wg.Done()
		for n := range o.client.Notifications() {
			switch n.Kind {
			case ami.KindConnected:
				once.Do(func() { close(connected) })
			case ami.KindEvent:
				o.event(n.Msg)
			}
		}
	}()
	select {
	case <-connected:
		return o, nil
	case <-ctx.Done():
		o.close()
		return nil, fmt.Errorf("connect to the PBX AMI %s as %s: %w", cfg.Addr, cfg.Username, ctx.Err())
	}
}

func (o *observer) close() {
	o.cancel()
	o.wg.Wait()
}

// endpointOf returns the PJSIP endpoint of a channel name (PJSIP/235-0000001a).
func endpointOf(channel string) string {
	rest, ok := strings.CutPrefix(channel, "PJSIP/")
	if !ok {
		return ""
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		return rest[:i]
	}
	return rest
}

func (o *observer) event(m *ami.Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch m.Event() {
	case "Newchannel":
		num := ""
		if ep := endpointOf(m.Get("Channel")); ep == "carrier" {
			num = m.Get("CallerIDNum")
		} else if _, ok := o.endpoints[ep]; ok && len(m.Get("Exten")) >= 10 {
			// An extension's call out: the number it dialled.
			num = m.Get("Exten")
		}
		if num != "" {
			if _, ok := o.byCaller[num]; !ok {
				o.byCaller[strings.Clone(num)] = strings.Clone(m.Get("Linkedid"))
			}
		}
	case "BridgeEnter":
		ext, ok := o.endpoints[endpointOf(m.Get("Channel"))]
		if !ok {
			return
		}
		uid := strings.Clone(m.Get("Uniqueid"))
		id := strings.Clone(m.Get("Linkedid"))
		if _, seen := o.answered[id]; !seen {
			o.answered[id] = &answer{Extension: ext, Channel: strings.Clone(m.Get("Channel")), Uniqueid: uid}
			o.spans[id] = [2]time.Time{time.Now()}
		}
		if _, ok := o.enterTS[uid]; !ok {
			o.enterTS[uid] = timestamp(m)
		}
		if !o.inBridge[uid] {
			o.inBridge[uid] = true
			o.cur++
			o.peak = max(o.peak, o.cur)
		}
	case "MixMonitorStart":
		if _, ok := o.endpoints[endpointOf(m.Get("Channel"))]; !ok {
			return
		}
		uid := strings.Clone(m.Get("Uniqueid"))
		skip := o.skipStarts
		if o.outbound {
			// Only the baseline's, on the extension's channel: the
			// control's pre-dial handler is [internal]'s.
			skip = 1
		}
		if o.starts[uid]++; o.starts[uid] <= skip {
			return
		}
		if _, ok := o.recTS[uid]; !ok {
			o.recTS[uid] = timestamp(m)
		}
	case "BridgeLeave", "Hangup":
		uid := m.Get("Uniqueid")
		if o.inBridge[uid] {
			if _, ok := o.leaveTS[uid]; !ok {
				o.leaveTS[strings.Clone(uid)] = timestamp(m)
			}
			delete(o.inBridge, uid)
			o.cur--
			id := m.Get("Linkedid")
			if s, ok := o.spans[id]; ok && s[1].IsZero() {
				s[1] = time.Now()
				o.spans[id] = s
			}
		}
	}
}

func timestamp(m *ami.Message) float64 {
	f, _ := strconv.ParseFloat(m.Get("Timestamp"), 64)
	return f
}

// recordingStarted notes, from the PBX's ARI events, that a part of a
// snoop recording of channel uid started at the PBX's time at.
func (o *observer) recordingStarted(uid, part string, at float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	key := uid + "|" + part
	if _, ok := o.partTS[key]; ok {
		return
	}
	o.partTS[key] = at
	o.recTS[uid] = max(o.recTS[uid], at)
}

// lateStart returns how long after the extension channel entered its
// bridge its recording started (0 when before: the first recorded frame
// is then the bridge's first, by the PBX's own events), and whether both
// events were seen. What the bridge carried in between is not recorded.
func (o *observer) lateStart(uid string) (time.Duration, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok1 := o.enterTS[uid]
	s, ok2 := o.recTS[uid]
	if !ok1 || !ok2 || e == 0 || s == 0 {
		return 0, false
	}
	return time.Duration(max(0, s-e) * float64(time.Second)), true
}

// bridgedFor returns how long the extension channel stayed in its first
// bridge, by the PBX's own event times, and whether both ends were seen.
func (o *observer) bridgedFor(uid string) (float64, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok1 := o.enterTS[uid]
	l, ok2 := o.leaveTS[uid]
	if !ok1 || !ok2 || e == 0 || l == 0 || l < e {
		return 0, false
	}
	return l - e, true
}

// setOutbound tells whether the next wave's extensions call out.
func (o *observer) setOutbound(out bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.outbound = out
}

// linkedID returns the call the carrier placed with caller number num, or
// the one an extension placed to num.
func (o *observer) linkedID(num string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byCaller[num]
}

// answeredBy returns the Annexe A leg of a call that was bridged, or nil.
func (o *observer) answeredBy(linkedid string) *answer {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.answered[linkedid]
}

// ended reports whether the call's Annexe A leg has left its bridge.
func (o *observer) ended(linkedid string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.spans[linkedid]
	return ok && !s[1].IsZero()
}

// resetPeak starts a new count of the most extension legs bridged at once.
func (o *observer) resetPeak() {
	o.mu.Lock()
	o.peak = o.cur
	o.mu.Unlock()
}

func (o *observer) peakBridged() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.peak
}

// setGlobal sets a dialplan global variable (Setvar without Channel).
func (o *observer) setGlobal(ctx context.Context, name, value string) error {
	if _, err := o.client.Action(ctx, "Setvar", ami.Header{Key: "Variable", Value: name}, ami.Header{Key: "Value", Value: value}); err != nil {
		return fmt.Errorf("set global %s=%s on the PBX: %w", name, value, err)
	}
	return nil
}

// getGlobal reads a dialplan global variable (Getvar without Channel).
func (o *observer) getGlobal(ctx context.Context, name string) (string, error) {
	m, err := o.client.Action(ctx, "Getvar", ami.Header{Key: "Variable", Value: name})
	if err != nil {
		return "", fmt.Errorf("get global %s on the PBX: %w", name, err)
	}
	return m.Get("Value"), nil
}
