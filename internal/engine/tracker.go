package engine

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/rules"
)

// Event is what the tracker reads of an AMI event.
type Event interface {
	Get(key string) string
}

// RulesSource returns the rules snapshot in force now.
type RulesSource func() *rules.Rules

// Recorder starts and stops recordings and files finished ones. Its Start
// and Stop make round trips to Asterisk: the tracker calls them through a
// Pipeline, never on its own goroutine (see Tracker).
type Recorder interface {
	// Start begins recording r.Channel; it fills r's backend fields.
	Start(ctx context.Context, r *Recording) error
	// Stop ends a recording while its channel lives on.
	Stop(ctx context.Context, r *Recording) error
	// Finish hands over a recording whose channel hung up or which was
	// stopped: it is filed once Asterisk has closed the file.
	Finish(r *Recording)
	// Running tells which of our recordings runs on a live channel, named
	// by its unique ID (after a reconnect or a restart): its ID and backend
	// ID, or "".
	Running(ctx context.Context, uniqueid string) (id, backendID string, err error)
	// Paths sets a recording's spool paths from its ID.
	Paths(r *Recording)
}

// Recording is one recording of one channel.
type Recording struct {
	ID       string // unique within the daemon's spool: <uniqueid>-<n>
	Channel  string
	Uniqueid string
	Linkedid string
	// Boot is the run of Asterisk the channel was seen in (see
	// Tracker.SetBoot), "" when unknown: a backend may name the channel by
	// its name only on an AMI session of that same run, where no other
	// channel can bear it.
	Boot      string
	Extension string
	Decision  rules.Decision
	Rules     *rules.Rules // the snapshot the call started with
	CallStart time.Time    // when the call's first channel appeared
	Started   time.Time
	Stopped   time.Time
	Direction string // inbound, outbound or other
	// Evidence of the decision, stored with the recording: the parties as
	// classified when it was decided, and whether a confidential extension
	// took part anywhere in the call as far as the tracker saw (fixed when
	// the recording is handed over).
	Parties          []PartyEvidence
	CallConfidential bool
	// Backend fields, filled by Recorder.Start.
	AsteriskPath string
	LocalPath    string
	BackendID    string
	// Parts, when the backend records each party to its own file (the
	// snoop backend: the extension's voice, then what it hears), are their
	// local paths in channel order: the filer interleaves them into one
	// two-channel file, and LocalPath is only the name they share.
	Parts []string
	// Bridged is how long the recorded channel talked (was in a bridge with
	// another party) while the recording was asked for: the filer compares
	// the file with it. Set by the tracker before it hands the recording
	// over; zero for a recording adopted or left by a crash.
	Bridged time.Duration
	orphan  bool // left by a crash: filed without waiting for a close
	// Discard, when set, says why the recording must not be filed: once
	// Asterisk has closed it, the filer removes its files from the spool.
	Discard string
	// MovedTo is the unique ID of the channel Asterisk moved the
	// recording's audio hooks and marks into (a call pickup), where a stop
	// must act; "" when they are still on Uniqueid. See StopOn.
	MovedTo string
	// stopAsked is set by the tracker's handOver once the recording must
	// end (a stop asked for, or its channel hung up), before it submits
	// the stop and the hand-over: a start still queued behind a slow PBX is
	// then never carried out (see Pipeline).
	stopAsked atomic.Bool
	// startFailed is set by the pipeline's worker when the start failed
	// or was not carried out: its stop and finish are then skipped (the
	// pipeline's workers only, one channel's orders at a time).
	startFailed bool
	// Tracker-side state (the tracker's goroutine only).
	bridgedAt  time.Time // when the recorded channel was first seen bridged
	verified   bool      // the file was seen growing after answer
	violated   bool      // reported as not growing
	askedAt    time.Time // the time of the event that called for it
	talkedBase time.Duration
	attempt    int // starts tried for this need (1 = first)
}

// joinCall moves c into call linkedid (a picker into the call it picked up).
func (t *Tracker) joinCall(c *channel, linkedid string) {
	if c.linkedid == linkedid || t.calls[linkedid] == nil {
		return
	}
	if old := t.calls[c.linkedid]; old != nil {
		old.channels--
		if old.channels <= 0 {
			delete(t.calls, c.linkedid)
		}
	}
	c.linkedid = linkedid
	t.calls[linkedid].channels++
}

// StopOn is the unique ID of the channel that carries the recording's
// audio hooks and marks now: MovedTo after a call pickup, else Uniqueid.
func (r *Recording) StopOn() string {
	if r.MovedTo != "" {
		return r.MovedTo
	}
	return r.Uniqueid
}

type channel struct {
	name      string
	uniqueid  string
	linkedid  string
	endpoint  string
	callerNum string
	boot      string // the run of Asterisk it was seen in (Tracker.SetBoot)
	dialled   string // number this channel was dialled with, when it is a dial's destination
	bridge    string
	dialedBy  *channel        // the channel whose Dial created this one
	evidence  []PartyEvidence // the parties of the decision that wants it recorded
	created   time.Time
	rec       *Recording
	recCount  int
	// talking is when the channel last entered a bridge with another party
	// (zero while it is not); talked sums the earlier such periods.
	talking time.Time
	talked  time.Duration
	// metSomeone: the channel has been in a bridge with another party
	// (it stands for a Local half only until then; see walkAnswered).
	metSomeone bool
	// deferred is a recording decided while the channel was bridged with a
	// Local channel about to be optimised away (see localDeferMax).
	deferred   *rules.Decision
	deferredAt time.Time
	// up: the channel answered (Newstate Up), at answered; answered is
	// zero when it was found Up without its answer seen (a reconnect).
	up       bool
	answered time.Time
}

type call struct {
	linkedid     string
	rules        *rules.Rules
	start        time.Time
	channels     int
	confidential bool // a confidential Annexe A extension took part
	// origin is the unique ID of the call's originating channel, the one
	// whose unique ID is the linkedid (Asterisk's definition), once seen;
	// originLocal tells it was a Local channel (the PBX placed the call).
	origin      string
	originLocal bool
}

// PartyEvidence is one party of a decision as the rules classified it:
// which channel, what it is and what decided it (never the number it
// presented).
type PartyEvidence struct {
	Channel      string `json:"channel"`
	Kind         string `json:"kind"`
	Extension    string `json:"extension,omitempty"`
	By           string `json:"by"`
	Confidential bool   `json:"confidential,omitempty"`
}

// Tracker follows calls from AMI events and drives the recorder. It is not
// safe for concurrent use: one goroutine feeds it, in event order, and
// hands it the recorder's outcomes (Apply). It never waits for Asterisk:
// starts, stops and hand-overs go through the Pipeline, and a start that
// fails on a live channel is tried again.
type Tracker struct {
	log      zerolog.Logger
	rules    RulesSource
	rec      Recorder
	answers  bool      // rec is an AnswerNoter: tell it each recorded channel's answer
	pipe     *Pipeline // nil: orders run synchronously (tests)
	metrics  *Metrics
	channels map[string]*channel // by uniqueid
	byName   map[string]*channel
	bridges  map[string]map[string]*channel // bridge id → members by uniqueid
	calls    map[string]*call               // by linkedid
	now      func() time.Time
	// evTime is the time of the event being handled (its Timestamp header).
	evTime time.Time
	// boot is the run of Asterisk the events come from now (SetBoot).
	boot string
}

// SetBoot tells the tracker which run of Asterisk the events that follow
// come from (ami.Notification.Boot of the session that delivers them): the
// channels it sees from now on, and their recordings, belong to that run.
// Call it on each new AMI session, before Reconcile.
func (t *Tracker) SetBoot(boot string) { t.boot = strings.Clone(boot) }

// NewTracker returns a tracker deciding with src and recording through rec,
// its orders carried by pipe (nil: run synchronously, for tests and tools;
// the daemon always passes one).
func NewTracker(log zerolog.Logger, src RulesSource, rec Recorder, m *Metrics, pipe *Pipeline) *Tracker {
	_, answers := rec.(AnswerNoter)
	return &Tracker{
		log:      log,
		rules:    src,
		rec:      rec,
		answers:  answers,
		pipe:     pipe,
		metrics:  m,
		channels: make(map[string]*channel),
		byName:   make(map[string]*channel),
		bridges:  make(map[string]map[string]*channel),
		calls:    make(map[string]*call),
		now:      time.Now,
	}
}

// TrackedEvents are the AMI events HandleAt reads; the daemon asks
// Asterisk for these only. Newstate gives each channel's answer time, which
// a recorder that starts before the answer needs (see AnswerNoter).
var TrackedEvents = []string{"Newchannel", "Newstate", "NewCallerid", "Rename", "DialBegin", "BridgeEnter", "BridgeLeave", "BridgeDestroy", "Hangup", "Pickup"}

// Handle applies one AMI event received now.
func (t *Tracker) Handle(ctx context.Context, e Event) { t.HandleAt(ctx, e, time.Time{}) }

// HandleAt applies one AMI event that the AMI client received at received:
// the event's time is its Timestamp header when Asterisk sends one
// (manager.conf timestampevents), else when it was received, so that the
// start latency metric counts the time an event waited in the queue.
func (t *Tracker) HandleAt(ctx context.Context, e Event, received time.Time) {
	now := t.now()
	if received.IsZero() {
		received = now
	}
	// How late Asterisk wrote the event, and how long it waited here.
	if ts := eventTime(e, time.Time{}); !ts.IsZero() {
		t.evTime = ts
		if d := received.Sub(ts); d >= 0 {
			t.metrics.EventDelivery.Observe(d.Seconds())
		}
	} else {
		t.evTime = received
	}
	t.metrics.EventQueue.Observe(max(0, now.Sub(received)).Seconds())
	switch e.Get("Event") {
	case "Newchannel":
		if c := t.ensure(e.Get("Uniqueid"), e.Get("Channel"), e.Get("Linkedid"), e.Get("CallerIDNum"), t.evTime); c != nil && isUp(e) {
			t.answer(ctx, c, answerTime(e))
		}
	case "Newstate":
		if c := t.channels[e.Get("Uniqueid")]; c != nil && isUp(e) {
			t.answer(ctx, c, answerTime(e))
		}
	case "NewCallerid":
		if c := t.channels[e.Get("Uniqueid")]; c != nil {
			c.callerNum = strings.Clone(e.Get("CallerIDNum"))
		}
	case "Rename":
		if c := t.channels[e.Get("Uniqueid")]; c != nil {
			delete(t.byName, c.name)
			c.name = strings.Clone(e.Get("Newname"))
			_, c.endpoint = endpointOf(c.name)
			t.byName[c.name] = c
		}
	case "DialBegin":
		t.dialBegin(ctx, e)
	case "BridgeEnter":
		t.bridgeEnter(ctx, e)
	case "BridgeLeave":
		if m := t.bridges[e.Get("BridgeUniqueid")]; m != nil {
			delete(m, e.Get("Uniqueid"))
			if len(m) == 1 {
				for _, o := range m {
					t.stopTalking(o)
				}
			}
			if len(m) == 0 {
				delete(t.bridges, e.Get("BridgeUniqueid"))
			}
		}
		if c := t.channels[e.Get("Uniqueid")]; c != nil {
			t.stopTalking(c)
			c.bridge = ""
			// Those who stay talk among themselves now: a Local channel
			// swapped out starts what waited for it; the external party
			// leaving a conference or a three-way call leaves an internal
			// call, which is not recorded; the detainee phone leaving lets
			// the others be recorded again.
			t.redecideBridge(ctx, e.Get("BridgeUniqueid"))
		}
	case "BridgeDestroy":
		delete(t.bridges, e.Get("BridgeUniqueid"))
	case "Hangup":
		t.hangup(ctx, e.Get("Uniqueid"))
	case "Pickup":
		t.pickup(ctx, e)
	}
}

// pickup handles a call pickup (*8, Pickup, PickupChan): Asterisk moves the
// picking phone into the ringing leg's channel (a masquerade). The channel
// that Dial holds, and the audio hooks attached to it (a recording started
// at the dial, MixMonitor's or a snoop's), go on as the picker's channel,
// under the picker's name and unique ID; the ringing leg's identity is left
// on a husk that hangs up. A recording of the ringing leg would therefore
// record the picker's call, whoever the picker is (the detainee phone, a
// phone outside Annexe A, another extension): it is stopped where its hooks
// now are and discarded unfiled. The ringing leg never talked, and the
// picker's own call is decided when it enters the caller's bridge, like
// any other.
func (t *Tracker) pickup(ctx context.Context, e Event) {
	target := t.channels[e.Get("TargetUniqueid")]
	if target == nil {
		return
	}
	picker := t.ensure(e.Get("Uniqueid"), e.Get("Channel"), e.Get("Linkedid"), e.Get("CallerIDNum"), t.evTime)
	if picker == nil {
		return
	}
	// The picker takes the ringing leg's place in its call: its recording,
	// if any, is filed with that call (its linkedid, start and direction).
	t.joinCall(picker, target.linkedid)
	if target.rec == nil {
		return
	}
	r := target.rec
	t.log.Warn().Str("linkedid", target.linkedid).Str("channel", target.name).Str("extension", r.Extension).
		Str("picked_up_by", picker.name).Str("recording", r.ID).
		Msg("ringing leg picked up by another phone: its recording would hold the picker's call; stopped and discarded, the picker's call is decided on its own")
	r.Discard = "picked up by " + picker.name + " before answer"
	// The stop must reach the hooks where they are now. (r's other fields
	// stay: its orders stay its channel's in the pipeline, after a start
	// that may still be in flight.)
	r.MovedTo = picker.uniqueid
	t.handOver(ctx, target, true)
}

// eventTime is the event's Timestamp header, or fallback when it has none.
func eventTime(e Event, fallback time.Time) time.Time {
	if ts := e.Get("Timestamp"); ts != "" {
		if f, err := strconv.ParseFloat(ts, 64); err == nil && f > 0 {
			sec := int64(f)
			return time.Unix(sec, int64((f-float64(sec))*1e9))
		}
	}
	return fallback
}

// ensure returns the tracked channel, creating it on first sight.
func (t *Tracker) ensure(uniqueid, name, linkedid, callerNum string, at time.Time) *channel {
	if uniqueid == "" {
		return nil
	}
	if c := t.channels[uniqueid]; c != nil {
		if callerNum != "" && c.callerNum == "" {
			c.callerNum = strings.Clone(callerNum)
		}
		return c
	}
	if linkedid == "" {
		linkedid = uniqueid
	}
	// AMI message strings alias the whole message: copy what outlives it.
	uniqueid, name, linkedid, callerNum = strings.Clone(uniqueid), strings.Clone(name), strings.Clone(linkedid), strings.Clone(callerNum)
	_, ep := endpointOf(name)
	c := &channel{name: name, uniqueid: uniqueid, linkedid: linkedid, endpoint: ep, callerNum: callerNum, created: at, boot: t.boot}
	t.channels[uniqueid] = c
	t.byName[name] = c
	cl := t.calls[linkedid]
	if cl != nil && at.Before(cl.start) {
		cl.start = at // a reconcile can meet a call's channels in any order
	}
	if cl == nil {
		// A call keeps the rules snapshot it started with.
		cl = &call{linkedid: linkedid, rules: t.rules(), start: at}
		t.calls[linkedid] = cl
		t.metrics.CallsSeen.Inc()
	}
	cl.channels++
	if uniqueid == linkedid {
		cl.origin, cl.originLocal = uniqueid, isLocal(c)
	}
	return c
}

func (t *Tracker) dialBegin(ctx context.Context, e Event) {
	dst := t.ensure(e.Get("DestUniqueid"), e.Get("DestChannel"), e.Get("DestLinkedid"), e.Get("DestCallerIDNum"), t.evTime)
	if dst == nil {
		return
	}
	if n := dialledNumber(e.Get("DialString")); n != "" {
		dst.dialled = strings.Clone(n)
	}
	src := t.ensure(e.Get("Uniqueid"), e.Get("Channel"), e.Get("Linkedid"), e.Get("CallerIDNum"), t.evTime)
	if src == nil {
		return
	}
	dst.dialedBy = src
	// Decide now, before answer, so the recording holds the first second of
	// conversation.
	t.decide(ctx, "dial", []*channel{src, dst})
	// A Local half's other half may have dialled already: Asterisk starts
	// a Local channel's dialplan before it tells of the Dial that created
	// it (app_dial following a forward, follow-me), so the other half's
	// dial was decided before anyone was known to stand behind it. Decide
	// those dials again, now that one is.
	if peer := t.localPeer(dst); peer != nil {
		for _, o := range t.dialledBy(peer) {
			t.decide(ctx, "dial", []*channel{peer, o})
		}
	}
}

// dialledBy lists the live channels c dialled, in a steady order (their
// unique IDs).
func (t *Tracker) dialledBy(c *channel) []*channel {
	var out []*channel
	for _, o := range t.channels {
		if o.dialedBy == c {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b *channel) int { return strings.Compare(a.uniqueid, b.uniqueid) })
	return out
}

func (t *Tracker) bridgeEnter(ctx context.Context, e Event) {
	c := t.ensure(e.Get("Uniqueid"), e.Get("Channel"), e.Get("Linkedid"), e.Get("CallerIDNum"), t.evTime)
	if c == nil {
		return
	}
	if holdingBridge(e) {
		return
	}
	id := strings.Clone(e.Get("BridgeUniqueid"))
	m := t.bridges[id]
	if m == nil {
		m = make(map[string]*channel)
		t.bridges[id] = m
	}
	m[c.uniqueid] = c
	c.bridge = id
	if len(m) < 2 {
		return
	}
	for _, o := range m {
		if o.talking.IsZero() {
			o.talking = t.evTime
		}
		o.metSomeone = true
	}
	defer t.markBridged(m)
	t.redecideBridge(ctx, id)
}

// decide applies the rules to a set of channels talking together (a dial's
// two ends, or a bridge's members): an Annexe A extension is recorded when an
// external party is among them and no never-record phone is.
func (t *Tracker) decide(ctx context.Context, why string, members []*channel) {
	members = t.expand(members)
	start := t.now()
	// The call's rules, with the exceptional instructions in force now.
	when := t.evTime
	if when.IsZero() {
		when = start
	}
	snap := t.snapshot(members).At(when)
	parties := make([]rules.Party, len(members))
	for i, m := range members {
		parties[i] = m.party()
	}
	bd := snap.DecideBridge(parties)
	t.metrics.DecisionLatency.Observe(t.now().Sub(start).Seconds())
	evidence := make([]PartyEvidence, len(members))
	for i, m := range members {
		cl := bd.Classes[i]
		evidence[i] = PartyEvidence{Channel: m.name, Kind: cl.Kind.String(), Extension: cl.Extension, By: string(cl.By), Confidential: cl.Confidential}
	}
	if bd.Confidential {
		// Every call of the parties talking together now involves it.
		for _, m := range members {
			if cl := t.calls[m.linkedid]; cl != nil {
				cl.confidential = true
			}
		}
	}
	for i, c := range members {
		d := bd.Parties[i]
		ok := d.Record
		switch {
		case ok && c.rec == nil && isLocal(c):
			// expand never leaves a Local channel whose far side is known;
			// one whose far side is unknown is never recorded itself.
		case ok && c.rec != nil && c.rec.Decision.Rule == "":
			// Adopted after a reconnection: the decision in force now is
			// its evidence.
			c.rec.Decision, c.rec.Parties = d, evidence
		case ok && c.rec == nil && why == "bridge" && t.bridgedWithLocal(c):
			c.evidence = evidence
			if c.deferred == nil {
				dd := d
				c.deferred, c.deferredAt = &dd, t.now()
				t.log.Info().Str("linkedid", c.linkedid).Str("channel", c.name).Str("extension", d.Extension).
					Msg("recording deferred until Asterisk swaps the far party in for the Local channel it is bridged with")
			}
		case ok && c.rec == nil:
			c.deferred = nil
			c.evidence = evidence
			t.logDecision(why, c, d, true)
			t.startRecording(ctx, c, d)
			if why == "reconcile" && c.rec != nil {
				// The call was bridged while the daemon could not see it.
				t.metrics.RecordingsLate.Inc()
				t.metrics.Violations.Inc()
				t.log.Warn().Str("linkedid", c.linkedid).Str("channel", c.name).Str("extension", d.Extension).
					Time("channel_created", c.created).
					Msg("policy violation: call found bridged and unrecorded after a (re)connection; recorded from now on, its beginning is lost")
			}
		case !ok && c.rec != nil && why == unseenDial:
			// A dial the tracker did not see decides starts only: what
			// runs already is left to the bridge's decision.
		case !ok && c.rec != nil:
			t.logDecision(why, c, d, false)
			t.stopRecording(ctx, c)
		case !ok && c.rec == nil && !bd.Recorded():
			c.deferred = nil
			t.logDecision(why, c, d, false)
		case !ok:
			c.deferred = nil
		}
	}
}

// Asterisk 22's audiohooks (MixMonitor's and a snoop's alike) attached to a
// channel already bridged with a Local channel often miss, for the rest of
// the call, everything the bridge writes to that channel once Asterisk
// swaps the real party in for the Local channel (the far party's voice,
// after an attended transfer), although the phone hears it; attached after
// the swap they hear both sides. A recording decided while its channel is
// bridged with a Local channel therefore waits for the swap, which follows
// within a fraction of a second, or at most localDeferMax (a Local channel
// that is never optimised away).
const localDeferMax = time.Second

// bridgedWithLocal tells whether c's bridge holds a Local channel besides c.
func (t *Tracker) bridgedWithLocal(c *channel) bool {
	for _, m := range t.bridges[c.bridge] {
		if m != c && isLocal(m) {
			return true
		}
	}
	return false
}

// redecideBridge decides on the members of bridge id (one entered or left).
func (t *Tracker) redecideBridge(ctx context.Context, id string) {
	if m := t.bridges[id]; len(m) >= 2 {
		t.decide(ctx, "bridge", members(m))
	}
}

// members lists a bridge's channels.
func members(m map[string]*channel) []*channel {
	out := make([]*channel, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	// In a steady order (their unique IDs, in creation order for one
	// Asterisk run): the orders of one decision go out the same way each
	// time.
	slices.SortFunc(out, func(a, b *channel) int { return strings.Compare(a.uniqueid, b.uniqueid) })
	return out
}

// Tick starts the recordings deferred for a Local channel that was not
// swapped out within localDeferMax. The daemon calls it every second.
func (t *Tracker) Tick(ctx context.Context) {
	now := t.now()
	t.evTime = now
	for _, c := range t.channels {
		if c.deferred == nil || c.rec != nil || now.Sub(c.deferredAt) < localDeferMax {
			continue
		}
		d := *c.deferred
		c.deferred = nil
		t.log.Warn().Str("linkedid", c.linkedid).Str("channel", c.name).Str("extension", d.Extension).
			Msg("the Local channel was not swapped out in time; recording now, with the far party's audio at risk")
		t.logDecision("bridge", c, d, true)
		t.startRecording(ctx, c, d)
	}
}

// expand replaces Local channels by the real channels they connect to (a
// Local channel's other half's bridge, or the channel that dialled it), so
// that decisions are taken on the parties actually talking, and recordings
// are made on an extension's own channel, never on a Local proxy.
func (t *Tracker) expand(members []*channel) []*channel {
	seen := make(map[*channel]bool)
	var out []*channel
	var walk func(c *channel, depth int)
	walk = func(c *channel, depth int) {
		if c == nil || seen[c] || depth > 8 || t.channels[c.uniqueid] != c {
			return
		}
		seen[c] = true
		other := t.localPeer(c)
		if other == nil {
			out = append(out, c)
			return
		}
		seen[other] = true
		// The other half's bridge, once someone else is in it; until then
		// (Asterisk can put a Local channel alone in its bridge a moment
		// before the party it connects to), the callee it dialled that
		// answered and has met no one yet, or the channel that dialled it.
		n := 0
		if other.bridge != "" {
			for _, m := range t.bridges[other.bridge] {
				if m != other {
					n++
					walk(m, depth+1)
				}
			}
		}
		if n == 0 && c.up {
			// Guarded by c's answer, not other's: the two halves' Newstates
			// come in no fixed order, but c is Up before its dialler
			// bridges it, and a half not yet answered (put in a bridge
			// while ringing, a blind transfer) does not yet stand for a
			// callee still being asked (Dial's screening options).
			n = t.walkAnswered(other, func(o *channel) { walk(o, depth+1) })
		}
		if n == 0 && other.dialedBy != nil {
			walk(other.dialedBy, depth+1)
		}
	}
	for _, c := range members {
		walk(c, 0)
	}
	return out
}

// walkAnswered calls walk on each channel that c (the other half of an
// answered Local half) dialled, that answered, and that has not yet been
// in a bridge with anyone, and returns how many there were. A Local half
// answers, so that its dialler can bridge it, only once its other half's
// callee answered; but the other half's own bridge with that callee is
// formed by another thread and can come later (seen in the sandbox on an
// internal call forwarded to an external number). Without this, a
// recording started at the dial would be stopped at the dialler's bridge
// and started again at the callee's, leaving a fragment beside the call's
// recording. A callee that has met someone is no longer the half's
// stand-in: it may talk elsewhere now (a consultation), and its bridge
// tells who it talks with. A daemon that met the call after its dial (a
// restart, a reconnect) does not know who dialled whom, and falls back to
// the channel that dialled c, as before.
func (t *Tracker) walkAnswered(c *channel, walk func(*channel)) int {
	n := 0
	for _, o := range t.dialledBy(c) {
		if o.up && !o.metSomeone {
			n++
			walk(o)
		}
	}
	return n
}

func isLocal(c *channel) bool { return strings.HasPrefix(c.name, "Local/") }

// localPeer returns the other half of a Local channel ("…;1" ↔ "…;2"), or
// nil when c is not a Local channel or its other half is unknown.
func (t *Tracker) localPeer(c *channel) *channel {
	n := c.name
	if !isLocal(c) || len(n) < 3 || n[len(n)-2] != ';' {
		return nil
	}
	half := map[byte]byte{'1': '2', '2': '1'}[n[len(n)-1]]
	if half == 0 {
		return nil
	}
	return t.byName[n[:len(n)-1]+string(half)]
}

func (t *Tracker) snapshot(members []*channel) *rules.Rules {
	for _, c := range members {
		if cl := t.calls[c.linkedid]; cl != nil && cl.rules != nil {
			return cl.rules
		}
	}
	return t.rules()
}

func (t *Tracker) logDecision(why string, c *channel, d rules.Decision, record bool) {
	t.log.Info().Str("linkedid", c.linkedid).Str("channel", c.name).Str("on", why).
		Bool("record", record).Str("rule", d.Rule).Str("extension", d.Extension).Msg(d.Reason)
}

func (t *Tracker) startRecording(ctx context.Context, c *channel, d rules.Decision) {
	t.startAttempt(ctx, c, d, 1)
}

func (t *Tracker) startAttempt(ctx context.Context, c *channel, d rules.Decision, attempt int) {
	c.recCount++
	cl := t.calls[c.linkedid]
	r := &Recording{
		Channel:   c.name,
		Uniqueid:  c.uniqueid,
		Linkedid:  c.linkedid,
		Boot:      c.boot,
		Extension: d.Extension,
		Decision:  d,
		Started:   t.now(),
		Direction: direction(c, t.calls[c.linkedid], t),
		Parties:   c.evidence,
		askedAt:   t.evTime,
		attempt:   attempt,
	}
	if r.askedAt.IsZero() {
		r.askedAt = r.Started
	}
	if cl != nil {
		r.Rules = cl.rules
		r.CallStart = cl.start
	} else {
		r.Rules = t.rules()
		r.CallStart = r.Started
	}
	r.ID = spoolID(r.CallStart, d.Extension, r.Direction, c.uniqueid, c.linkedid, c.recCount)
	r.talkedBase = c.talkedUntil(t.evTime)
	t.rec.Paths(r)
	// The channel counts as recorded from now on, so that later events do
	// not start it twice; a start that fails clears it again (Apply).
	c.rec = r
	t.submit(ctx, OpStart, r)
	if c.up && c.rec == r {
		// Answered before it was decided (a bridge, a retry): nothing of
		// the call precedes the recording. (Without a pipeline, a start
		// that failed has been replaced by its retry already.)
		t.tellAnswer(ctx, r, c.answered)
	}
}

// isUp tells whether a channel event (Newchannel, Newstate, a
// CoreShowChannel item) says the channel is Up.
func isUp(e Event) bool { return e.Get("ChannelState") == "6" || e.Get("ChannelStateDesc") == "Up" }

// answerTime is when the event says its channel answered, by the PBX's
// clock: its Timestamp, or the zero time (unknown, nothing cut) without
// one (timestampevents off): the time it was received, by the daemon's
// clock and after its queue, could cut into the call.
func answerTime(e Event) time.Time { return eventTime(e, time.Time{}) }

// answer notes that c answered at (zero: found Up, since when unknown),
// once, or once more when a time comes after the zero time (a Newstate
// queued behind a reconnect's listing), and tells its recording's
// recorder.
func (t *Tracker) answer(ctx context.Context, c *channel, at time.Time) {
	if c.up && (at.IsZero() || !c.answered.IsZero()) {
		return
	}
	c.up, c.answered = true, at
	if c.rec != nil {
		t.tellAnswer(ctx, c.rec, at)
	}
}

// tellAnswer hands r's channel's answer time to a recorder that needs it
// (an AnswerNoter), after r's orders queued before it.
func (t *Tracker) tellAnswer(ctx context.Context, r *Recording, at time.Time) {
	if t.answers {
		t.send(ctx, op{kind: OpAnswer, r: r, at: at})
	}
}

// submit hands an order to the pipeline, or runs it at once without one.
func (t *Tracker) submit(ctx context.Context, kind OpKind, r *Recording) {
	t.send(ctx, op{kind: kind, r: r})
}

// send hands an order to the pipeline, or carries it out at once without
// one.
func (t *Tracker) send(ctx context.Context, o op) {
	if t.pipe != nil {
		t.pipe.submit(o)
		return
	}
	if out, ok := carryOut(ctx, t.rec, o); ok {
		t.Apply(ctx, out)
	}
}

// maxStartAttempts bounds how often a start that fails on a live channel
// is tried again.
const maxStartAttempts = 3

// Apply takes in the outcome of a start or a stop that the pipeline carried
// out.
func (t *Tracker) Apply(ctx context.Context, o Outcome) {
	t.evTime = t.now()
	r := o.Rec
	c := t.channels[r.Uniqueid]
	live := c != nil && c.rec == r
	switch {
	case o.Kind == OpStop:
		if o.Err != nil {
			t.log.Error().Err(o.Err).Str("linkedid", r.Linkedid).Str("channel", r.Channel).Msg("stop recording")
		}
	case o.Err == nil:
		t.metrics.RecordingsStarted.Inc()
		t.metrics.StartLatency.Observe(max(0, o.Done.Sub(r.askedAt).Seconds()))
	case live:
		// The channel lives on: the call must be recorded, try again.
		c.rec = nil
		t.metrics.RecordingsFailed.Inc()
		t.metrics.Violations.Inc()
		ev := t.log.Error().Err(o.Err).Str("linkedid", r.Linkedid).Str("channel", r.Channel).Str("extension", r.Extension).Int("attempt", r.attempt)
		if r.attempt >= maxStartAttempts {
			ev.Msg("policy violation: the call must be recorded but the recording did not start; giving up on this decision")
			return
		}
		ev.Msg("policy violation: the call must be recorded but the recording did not start; trying again")
		t.retry(ctx, c, r)
	case r.Bridged > 0 || !r.bridgedAt.IsZero():
		// Hung up before the recording started, after talking.
		t.metrics.RecordingsFailed.Inc()
		t.metrics.Violations.Inc()
		t.log.Error().Err(o.Err).Str("linkedid", r.Linkedid).Str("channel", r.Channel).Str("extension", r.Extension).
			Dur("bridged", r.Bridged).Msg("policy violation: the call was answered and must be recorded, but its recording never started")
	default:
		// A leg that ended (never answered) before its start was carried out.
		t.log.Info().Err(o.Err).Str("linkedid", r.Linkedid).Str("channel", r.Channel).Str("extension", r.Extension).
			Msg("the leg ended before its recording started; it never talked, nothing to record")
	}
}

// retry starts c's recording anew with the decision that failed, while c
// still talks or rings with another party; otherwise the next bridge
// decides again.
func (t *Tracker) retry(ctx context.Context, c *channel, failed *Recording) {
	if t.inConversation(c) || c.dialedBy != nil || t.dialsSomeone(c) {
		t.startAttempt(ctx, c, failed.Decision, failed.attempt+1)
		return
	}
	t.log.Warn().Str("linkedid", c.linkedid).Str("channel", c.name).
		Msg("recording not retried: the channel talks with nobody now; the next bridge decides again")
}

// dialsSomeone tells whether a channel c dialled is still up.
func (t *Tracker) dialsSomeone(c *channel) bool {
	for _, o := range t.channels {
		if o.dialedBy == c {
			return true
		}
	}
	return false
}

// talkedUntil returns how long c has talked until at.
func (c *channel) talkedUntil(at time.Time) time.Duration {
	d := c.talked
	if !c.talking.IsZero() && at.After(c.talking) {
		d += at.Sub(c.talking)
	}
	return d
}

// stopTalking ends c's current talk period.
func (t *Tracker) stopTalking(c *channel) {
	if c.talking.IsZero() {
		return
	}
	if t.evTime.After(c.talking) {
		c.talked += t.evTime.Sub(c.talking)
	}
	c.talking = time.Time{}
}

// handOver ends c's recording as far as the tracker is concerned: the
// recording's talk time is fixed and the recorder files it once Asterisk
// has closed it.
func (t *Tracker) handOver(ctx context.Context, c *channel, stop bool) {
	r := c.rec
	c.rec = nil
	r.stopAsked.Store(true)
	r.Stopped = t.now()
	r.Bridged = max(0, c.talkedUntil(t.evTime)-r.talkedBase)
	r.CallConfidential = r.Decision.Confidential
	if cl := t.calls[c.linkedid]; cl != nil && cl.confidential {
		r.CallConfidential = true
	}
	if stop {
		t.metrics.RecordingsStopped.Inc()
		t.submit(ctx, OpStop, r)
	}
	t.submit(ctx, OpFinish, r)
}

func (t *Tracker) stopRecording(ctx context.Context, c *channel) {
	t.handOver(ctx, c, true)
}

// direction tells whether the recorded extension received or placed the call:
// the call's originating channel (the one whose unique ID is the linkedid,
// or else the oldest channel the tracker knows of the call) is its
// originator. A call that a Local channel originated was placed by the PBX
// itself (an AMI Originate or a call file of Local/<ext>@<context>:
// click-to-call, a callback), on the city's side: outbound.
func direction(c *channel, cl *call, t *Tracker) string {
	if cl == nil {
		return "other"
	}
	origin, local := cl.origin, cl.originLocal
	if origin == "" {
		// Met after a reconnection without its originator, or a call
		// whose linkedid names no channel of it.
		var first *channel
		for _, o := range t.channels {
			if o.linkedid == c.linkedid && (first == nil || o.created.Before(first.created) || (o.created.Equal(first.created) && o.uniqueid < first.uniqueid)) {
				first = o
			}
		}
		if first != nil {
			origin, local = first.uniqueid, isLocal(first)
		}
	}
	if origin == c.uniqueid || local {
		return "outbound"
	}
	return "inbound"
}

func (t *Tracker) hangup(ctx context.Context, uniqueid string) {
	c := t.channels[uniqueid]
	if c == nil {
		return
	}
	t.stopTalking(c)
	delete(t.channels, uniqueid)
	if t.byName[c.name] == c {
		delete(t.byName, c.name)
	}
	if c.bridge != "" {
		if m := t.bridges[c.bridge]; m != nil {
			delete(m, uniqueid)
			if len(m) == 0 {
				delete(t.bridges, c.bridge)
			}
		}
	}
	if c.rec != nil {
		t.handOver(ctx, c, false)
	}
	if cl := t.calls[c.linkedid]; cl != nil {
		cl.channels--
		if cl.channels <= 0 {
			delete(t.calls, c.linkedid)
		}
	}
}

// holdingBridge reports whether a bridge event or a BridgeList item names a
// holding bridge: a parking lot (or an application's waiting room), whose
// members wait, each hearing music or silence, and never talk together.
func holdingBridge(e Event) bool { return e.Get("BridgeTechnology") == "holding_bridge" }

// Reconcile rebuilds the tracker's view from a CoreShowChannels listing,
// after every (re)connect: channels gone since are hung up (their recordings
// filed), recordings of ours still running on live channels are adopted (so
// nothing is recorded twice), every dial in progress whose DialBegin was not
// read is decided (reconcileDials), and every bridge is decided again,
// starting what the policy requires. bridges is the BridgeList listing taken with
// it (CoreShowChannels does not tell a bridge's technology): the members of
// a holding bridge are not taken for talking together; nil when it could
// not be read. It returns how many recordings it adopted.
func (t *Tracker) Reconcile(ctx context.Context, items, bridges []Event) int {
	holding := make(map[string]bool)
	for _, b := range bridges {
		if holdingBridge(b) {
			holding[b.Get("BridgeUniqueid")] = true
		}
	}
	live := make(map[string]Event, len(items))
	for _, it := range items {
		if uid := it.Get("Uniqueid"); uid != "" {
			live[uid] = it
		}
	}
	// Channels gone meanwhile are hung up once the live ones are read (see
	// below): a recording of a ringing leg found moved into a live
	// channel is discarded, not filed with its leg.
	var gone []string
	for uid := range t.channels {
		if _, ok := live[uid]; !ok {
			gone = append(gone, uid)
		}
	}
	clear(t.bridges)
	now := t.now()
	t.evTime = now
	adopted := 0
	var ask []*channel
	for uid, it := range live {
		// A channel met here began Duration ago: the call's start (and so
		// its recording's name) is its own, not the reconnection's.
		c := t.ensure(uid, it.Get("Channel"), it.Get("Linkedid"), it.Get("CallerIDNum"), now.Add(-parseHMS(it.Get("Duration"))))
		if isUp(it) {
			// Answered while the daemon could not see it: since when is
			// not known (a recording tracked through the outage is told
			// so now, one adopted below then).
			t.answer(ctx, c, time.Time{})
		}
		c.bridge = ""
		if b := it.Get("BridgeId"); b != "" && !holding[b] {
			c.bridge = strings.Clone(b)
			m := t.bridges[c.bridge]
			if m == nil {
				m = make(map[string]*channel)
				t.bridges[c.bridge] = m
			}
			m[c.uniqueid] = c
		}
		if c.rec == nil {
			ask = append(ask, c)
		}
	}
	for _, m := range t.bridges {
		if len(m) >= 2 {
			for _, c := range m {
				if c.talking.IsZero() {
					c.talking = now
				}
				c.metSomeone = true
			}
		}
	}
	// Which of those carry a recording of ours: several questions in
	// flight at once, so that a PBX with many calls up is read quickly.
	type running struct{ id, backendID string }
	found := make([]running, len(ask))
	errs := make([]error, len(ask))
	var wg sync.WaitGroup
	sem := make(chan struct{}, reconcileParallel)
	for i, c := range ask {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			found[i].id, found[i].backendID, errs[i] = t.rec.Running(ctx, c.uniqueid)
		}()
	}
	wg.Wait()
	unknown := make(map[string]bool)
	for i, c := range ask {
		id, backendID, err := found[i].id, found[i].backendID, errs[i]
		if err != nil {
			t.log.Warn().Err(err).Str("channel", c.name).Msg("reconcile: cannot tell whether a recording runs on this channel")
			unknown[c.uniqueid] = true
			continue
		}
		if id == "" {
			continue
		}
		info, err := ParseSpoolID(id)
		if err != nil {
			t.log.Error().Err(err).Str("channel", c.name).Msg("reconcile: the channel names a recording this daemon cannot read")
			continue
		}
		r := &Recording{ID: id, Channel: c.name, Uniqueid: c.uniqueid, Linkedid: c.linkedid, Boot: c.boot,
			Extension: info.Extension, Direction: info.Direction, CallStart: info.CallStart,
			Started: now, BackendID: backendID, Rules: t.snapshot([]*channel{c})}
		r.talkedBase = c.talkedUntil(now)
		t.rec.Paths(r)
		if info.Uniqueid != c.uniqueid {
			// Started on another channel, whose audio hooks (and marks)
			// Asterisk has since moved into this one: a call pickup while
			// the daemon could not see it (see pickup). It holds this
			// channel's call, not the one it was decided for.
			why := "started on " + info.Uniqueid + ", found on " + c.name + " after a call pickup the daemon did not see"
			t.log.Warn().Str("linkedid", c.linkedid).Str("channel", c.name).Str("recording", id).
				Msg("reconcile: a recording started on a ringing leg runs on the phone that picked it up; stopped and discarded, the call is decided on its own")
			if leg := t.channels[info.Uniqueid]; leg != nil && leg.rec != nil && leg.rec.ID == id {
				// Still tracked (the AMI session dropped, the daemon ran on).
				leg.rec.Discard, leg.rec.MovedTo = why, c.uniqueid
				t.handOver(ctx, leg, true)
				continue
			}
			r.Discard = why
			t.metrics.RecordingsStopped.Inc()
			t.submit(ctx, OpStop, r)
			t.submit(ctx, OpFinish, r)
			continue
		}
		c.rec = r
		adopted++
		if c.up {
			t.tellAnswer(ctx, r, c.answered)
		}
		t.log.Info().Str("linkedid", c.linkedid).Str("channel", c.name).Str("recording", id).Msg("reconcile: adopted a recording already running")
	}
	for _, uid := range gone {
		t.hangup(ctx, uid)
	}
	t.reconcileDials(ctx, live, unknown)
	for _, m := range t.bridges {
		if len(m) >= 2 {
			t.decide(ctx, "reconcile", members(m))
		}
	}
	return adopted
}

// markBridged notes when recorded channels of a bridge with two members or
// more were first seen bridged: their files must grow from then on.
func (t *Tracker) markBridged(m map[string]*channel) {
	now := t.now()
	for _, c := range m {
		if c.rec != nil && c.rec.bridgedAt.IsZero() {
			c.rec.bridgedAt = now
		}
	}
}

// growthGrace is how long after answer a recording's file must exist with
// audio in it.
const growthGrace = 3 * time.Second

// CheckGrowth raises a policy violation for every recording whose file does
// not hold audio growthGrace after its channel was bridged: Asterisk answers
// MixMonitor with Success once the recording thread starts, and reports a
// file it cannot open (permissions, full disk) only in its own log. size
// returns a file's size (os.Stat in the daemon).
func (t *Tracker) CheckGrowth(size func(path string) (int64, error)) {
	now := t.now()
	for _, c := range t.channels {
		r := c.rec
		if r == nil || r.verified || r.violated || r.bridgedAt.IsZero() || now.Sub(r.bridgedAt) < growthGrace {
			continue
		}
		files := r.Parts
		if len(files) == 0 {
			files = []string{r.LocalPath}
		}
		var n int64
		var err error
		for _, p := range files {
			if n, err = size(p); err == nil && n > 44 {
				r.verified = true
				break
			}
		}
		if r.verified {
			continue
		}
		r.violated = true
		t.metrics.Violations.Inc()
		t.log.Error().Str("linkedid", c.linkedid).Str("channel", c.name).Str("extension", r.Extension).
			Str("file", r.LocalPath).AnErr("stat", err).Int64("bytes", n).
			Msg("policy violation: the call must be recorded but its recording is not growing; check Asterisk's log (permissions, disk space) and recording.local_dir")
	}
}

// RunningIDs returns the IDs of the recordings running now.
func (t *Tracker) RunningIDs() map[string]bool {
	ids := make(map[string]bool)
	for _, c := range t.channels {
		if c.rec != nil {
			ids[c.rec.ID] = true
		}
	}
	return ids
}

// Active returns the number of channels tracked and of recordings running.
func (t *Tracker) Active() (channels, recordings int) {
	for _, c := range t.channels {
		if c.rec != nil {
			recordings++
		}
	}
	return len(t.channels), recordings
}

// reconcileParallel is how many channels Reconcile asks about at once.
const reconcileParallel = 8

// parseHMS reads CoreShowChannels' Duration (HH:MM:SS); anything else is 0.
func parseHMS(s string) time.Duration {
	var h, m, sec int
	if n, err := fmt.Sscanf(s, "%d:%d:%d", &h, &m, &sec); err != nil || n != 3 || h < 0 || m < 0 || sec < 0 {
		return 0
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second
}
