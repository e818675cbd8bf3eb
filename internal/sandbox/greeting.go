package sandbox

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/internal/engine"
)

// What the carrier hears: docker/asterisk/sim/extensions.conf,
// [sim-originated-recorded].
const (
	// SimMonitorDir is where the simulator keeps the audio its recorded
	// carrier calls received, as the simulator sees it (under Env.Root
	// for the test process).
	SimMonitorDir = "/var/spool/asterisk-sim/monitor"
	// recordedContext is the simulator context of recorded carrier calls.
	recordedContext = "sim-originated-recorded"
	// GreetingFile is the city's greeting, relative to the repository.
	GreetingFile = "rules/sounds/avis-enregistrement.wav"
)

// PBXObserverAMI is the PBX's AMI user for tests (docker/asterisk/pbx/manager.conf);
// the daemon never uses it.
var PBXObserverAMI = ami.Config{Addr: "127.0.0.1:5038", Username: "sandbox-observer", Secret: "sandbox-observer-secret"}

// InboundRecorded places a call from the carrier to a city number, like
// Inbound, and makes the carrier's channel record everything it receives —
// what the caller hears: the greeting, ringback, then the extension's tone
// (PhoneFreq) — but not the carrier's own tone. root is the sandbox chroot
// (Env.Root). It returns the call and the recording's path for this
// process; the file is complete once the call has hung up (WaitWAVClosed).
func (d *Driver) InboundRecorded(ctx context.Context, root, did, callerNum string, o Options) (*Call, string, error) {
	if _, err := d.client.List(ctx, "ShowDialPlan", ami.Header{Key: "Context", Value: recordedContext}); err != nil {
		return nil, "", fmt.Errorf("place recorded call to %s: the simulator has no context %s (a sandbox started from an older checkout? docker/sandbox up reloads the config): %w", did, recordedContext, err)
	}
	o.Context = recordedContext
	c, err := d.originate(ctx, "pbx-carrier", did, callerNum, SideCarrier, SidePhone, inboundAnswerers(did, o), o)
	if err != nil {
		return nil, "", fmt.Errorf("place recorded call to %s: %w", did, err)
	}
	return c, filepath.Join(root, SimMonitorDir, c.ID+".wav"), nil
}

// WaitWAVClosed waits until the WAV file at path exists and its header's
// length matches its size on two looks 100 ms apart (Asterisk writes the
// lengths when it closes the file).
func WaitWAVClosed(ctx context.Context, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last engine.WAVInfo
	var err error
	for {
		var info engine.WAVInfo
		info, err = engine.ReadWAVInfo(path)
		if err == nil && info.HeaderBytes == info.DataBytes && info.DataBytes > 0 && info == last {
			return nil
		}
		last = info
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("wait for %s to close: %w", path, err)
			}
			return fmt.Errorf("wait for %s to close: %w after %s (header says %d bytes, file holds %d)", path, ErrTimeout, timeout, info.HeaderBytes, info.DataBytes)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Heard is the analysis of what a caller heard (a carrier-side recording):
// speech — broadband audio that is neither the extension's tone nor
// ringback — and the extension's tone (PhoneFreq).
type Heard struct {
	// Duration is the recording's length in seconds.
	Duration float64
	// ToneStart is when the extension's tone starts (the first of at least
	// 200 ms of it), in seconds; -1 when it never does.
	ToneStart float64
	// SpeechStart and SpeechEnd bound the speech heard before ToneStart (the
	// whole recording without a tone), in seconds; both -1 without speech.
	SpeechStart, SpeechEnd float64
	// SpeechRMS is the RMS of [SpeechStart, SpeechEnd); SpeechTone is the
	// share of its energy at PhoneFreq.
	SpeechRMS, SpeechTone float64
	// SpeechAfterTone is how many seconds of speech frames follow ToneStart
	// (a second greeting would show here).
	SpeechAfterTone float64
}

// Analysis frames and thresholds of AnalyseHeard.
const (
	heardFrame = 0.04  // seconds per frame (Goertzel bins 25 Hz wide)
	heardFloor = 0.01  // RMS under which a frame is silence
	heardTonal = 0.5   // a frame whose share at PhoneFreq, or at ringback's two tones summed, reaches this is a tone
	toneFrames = 5     // frames of tone that make ToneStart (200 ms)
	toneShare  = 0.6   // share at PhoneFreq of a tone frame
	ringLow    = 440.0 // ringback (indications.conf, ca): 440+480 Hz
	ringHigh   = 480.0
)

// AnalyseHeard finds the speech and the extension's tone in a carrier-side
// recording.
func AnalyseHeard(a Audio) Heard {
	h := Heard{Duration: a.Duration(), ToneStart: -1, SpeechStart: -1, SpeechEnd: -1}
	n := int(a.Duration() / heardFrame)
	loud := make([]bool, n)
	tonal := make([]bool, n)
	run := 0
	for i := 0; i < n; i++ {
		from, to := float64(i)*heardFrame, float64(i+1)*heardFrame
		if a.RMS(from, to) < heardFloor {
			run = 0
			continue
		}
		loud[i] = true
		tone := a.ToneShare(PhoneFreq, from, to)
		ring := a.ToneShare(ringLow, from, to) + a.ToneShare(ringHigh, from, to)
		tonal[i] = tone >= heardTonal || ring >= heardTonal
		if tone >= toneShare {
			run++
			if run == toneFrames && h.ToneStart < 0 {
				h.ToneStart = float64(i-toneFrames+1) * heardFrame
			}
		} else {
			run = 0
		}
	}
	// Speech: loud frames that are not a tone, nor next to one (a frame
	// where a tone starts or stops mixes it with silence or another tone).
	speech := make([]bool, n)
	for i := range speech {
		speech[i] = loud[i] && !tonal[i] && (i == 0 || !tonal[i-1]) && (i == n-1 || !tonal[i+1])
	}
	end := n
	if h.ToneStart >= 0 {
		end = int(h.ToneStart / heardFrame)
	}
	for i := 0; i < n; i++ {
		if !speech[i] {
			continue
		}
		if i >= end {
			h.SpeechAfterTone += heardFrame
			continue
		}
		t := float64(i) * heardFrame
		if h.SpeechStart < 0 {
			h.SpeechStart = t
		}
		h.SpeechEnd = t + heardFrame
	}
	if h.SpeechStart >= 0 {
		h.SpeechRMS = a.RMS(h.SpeechStart, h.SpeechEnd)
		h.SpeechTone = a.ToneShare(PhoneFreq, h.SpeechStart, h.SpeechEnd)
	}
	return h
}

// SpeechSpan returns the first and last speech instants of a recording
// that holds only speech (the greeting file itself), in seconds, measured
// as AnalyseHeard measures the greeting in a call.
func SpeechSpan(a Audio) (float64, float64) {
	h := AnalyseHeard(a)
	return h.SpeechStart, h.SpeechEnd
}

// Observer watches the PBX through its test AMI user: for each call (by
// linkedid) the channels, the RECPOLICY_GREETED values set, and the CDRs.
type Observer struct {
	*amiConn

	mu       sync.Mutex
	byCaller map[string]string // caller number → linkedid of its first channel
	greeted  map[string][]Greeted
	cdrs     map[string][]*ami.Message
	enters   map[string][]BridgeEnter
	dials    []BridgeEnter // DialBegin: the dialled channel, no bridge
	parked   []BridgeEnter // ParkedCall: the parked channel, its space as Bridge
	changed  chan struct{}
}

// BridgeEnter is a channel entering a bridge on the PBX.
type BridgeEnter struct {
	Channel, Bridge string
	At              time.Time
}

// ObservePBX connects to the PBX's AMI as the test observer and waits for
// the connection.
func ObservePBX(ctx context.Context, cfg ami.Config) (*Observer, error) {
	o := &Observer{byCaller: map[string]string{}, greeted: map[string][]Greeted{},
		cdrs: map[string][]*ami.Message{}, enters: map[string][]BridgeEnter{}, changed: make(chan struct{})}
	c, err := connect(ctx, cfg, zerolog.Nop(), o.event)
	if err != nil {
		return nil, fmt.Errorf("connect to PBX AMI %s as %s: %w", cfg.Addr, cfg.Username, err)
	}
	o.amiConn = c
	return o, nil
}

// Close disconnects.
func (o *Observer) Close() { o.amiConn.close() }

// Action sends a raw action to the PBX.
func (o *Observer) Action(ctx context.Context, action string, h ...ami.Header) (*ami.Message, error) {
	return o.client.Action(ctx, action, h...)
}

func (o *Observer) event(m *ami.Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch m.Event() {
	case "Newchannel":
		num := m.Get("CallerIDNum")
		if _, ok := o.byCaller[num]; !ok && num != "" {
			o.byCaller[strings.Clone(num)] = strings.Clone(m.Get("Linkedid"))
		}
	case "VarSet":
		if strings.TrimLeft(m.Get("Variable"), "_") != "RECPOLICY_GREETED" {
			return
		}
		id := strings.Clone(m.Get("Linkedid"))
		o.greeted[id] = append(o.greeted[id], Greeted{Channel: strings.Clone(m.Get("Channel")), Value: strings.Clone(m.Get("Value"))})
	case "Cdr":
		id := strings.Clone(m.Get("LinkedID"))
		o.cdrs[id] = append(o.cdrs[id], m)
	case "ParkedCall":
		o.parked = append(o.parked, BridgeEnter{Channel: strings.Clone(m.Get("ParkeeChannel")), Bridge: strings.Clone(m.Get("ParkingSpace")), At: eventTime(m)})
	case "DialBegin":
		o.dials = append(o.dials, BridgeEnter{Channel: strings.Clone(m.Get("DestChannel")), At: eventTime(m)})
	case "BridgeEnter":
		id := strings.Clone(m.Get("Linkedid"))
		o.enters[id] = append(o.enters[id], BridgeEnter{Channel: strings.Clone(m.Get("Channel")),
			Bridge: strings.Clone(m.Get("BridgeUniqueid")), At: eventTime(m)})
	default:
		return
	}
	close(o.changed)
	o.changed = make(chan struct{})
}

// BridgeEnters returns the channels that entered a bridge in call linkedid,
// in event order.
func (o *Observer) BridgeEnters(linkedid string) []BridgeEnter {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]BridgeEnter(nil), o.enters[linkedid]...)
}

// wait calls found, under the observer's lock, each time an event was
// recorded, until it reports true; what names the wait in the timeout error.
func (o *Observer) wait(ctx context.Context, what string, timeout time.Duration, found func() bool) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		o.mu.Lock()
		ok, ch := found(), o.changed
		o.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-t.C:
			return fmt.Errorf("wait for %s: %w after %s", what, ErrTimeout, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitEnter waits until a channel whose name starts with prefix enters a
// bridge at or after since (in any call: a channel that picked a call up
// keeps its own linkedid until the bridge), and returns that entry.
func (o *Observer) WaitEnter(ctx context.Context, prefix string, since time.Time, timeout time.Duration) (BridgeEnter, error) {
	var got BridgeEnter
	err := o.wait(ctx, prefix+" to enter a bridge", timeout, func() bool {
		for _, es := range o.enters {
			for _, e := range es {
				if strings.HasPrefix(e.Channel, prefix) && !e.At.Before(since) {
					got = e
					return true
				}
			}
		}
		return false
	})
	return got, err
}

// WaitParked waits until a channel is parked at or after since and returns
// its parking space.
func (o *Observer) WaitParked(ctx context.Context, since time.Time, timeout time.Duration) (string, error) {
	var space string
	err := o.wait(ctx, "a parked call", timeout, func() bool {
		for _, p := range o.parked {
			if !p.At.Before(since) {
				space = p.Bridge
				return true
			}
		}
		return false
	})
	return space, err
}

// WaitRinging waits until the PBX dials a channel whose name starts with
// prefix (a DialBegin) at or after since.
func (o *Observer) WaitRinging(ctx context.Context, prefix string, since time.Time, timeout time.Duration) error {
	return o.wait(ctx, "the PBX to ring "+prefix, timeout, func() bool {
		for _, d := range o.dials {
			if strings.HasPrefix(d.Channel, prefix) && !d.At.Before(since) {
				return true
			}
		}
		return false
	})
}

// LinkedID returns the linkedid of the first PBX channel whose caller
// number was num, or "".
func (o *Observer) LinkedID(num string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byCaller[num]
}

// Greeted is one setting of RECPOLICY_GREETED (an AMI VarSet event).
type Greeted struct {
	Channel, Value string
}

// Greeted returns the settings of RECPOLICY_GREETED on the call's channels,
// in order. A channel that inherits the variable may report it too.
func (o *Observer) Greeted(linkedid string) []Greeted {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Greeted(nil), o.greeted[linkedid]...)
}

// CDRs returns the Cdr events of the call seen so far.
func (o *Observer) CDRs(linkedid string) []*ami.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*ami.Message(nil), o.cdrs[linkedid]...)
}

// WaitCDR waits until the call has produced at least one Cdr event and
// returns them all.
func (o *Observer) WaitCDR(ctx context.Context, linkedid string, timeout time.Duration) ([]*ami.Message, error) {
	var got []*ami.Message
	err := o.wait(ctx, "the CDR of call "+linkedid, timeout, func() bool {
		got = append([]*ami.Message(nil), o.cdrs[linkedid]...)
		return len(got) > 0
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}
