package engine

import (
	"context"
	"slices"
	"strings"
)

// outgoingLine is the application data Asterisk gives a channel that a
// Dial or a Queue placed (app_dial's "AppDial", app_queue's "AppQueue").
const outgoingLine = "(Outgoing Line)"

// dialApps are the applications whose channel may have placed a ringing
// dial's destination.
var dialApps = []string{"dial", "queue", "followme"}

// reconcileDials decides again the dials a reconnection's listing shows in
// progress whose DialBegin the tracker never read (made while the daemon
// could not see the PBX: a cut AMI session, a daemon restart): each
// destination Asterisk placed (its application data "(Outgoing Line)") that
// the tracker does not know the dialler of is paired with the channel of
// its call (linkedid) that runs Dial, Queue or FollowMe, and decided as at
// its DialBegin, so that its recording starts before its answer rather than
// at its bridge. Several such channels in one call (a ring group through
// Local channels) are told apart by the Dial's targets; a destination that
// cannot be paired is left to its bridge, as before. A destination already
// in a bridge with another party is left to the bridge's decision.
func (t *Tracker) reconcileDials(ctx context.Context, live map[string]Event) {
	byCall := make(map[string][]Event)
	for _, it := range live {
		if slices.Contains(dialApps, strings.ToLower(it.Get("Application"))) && !placed(it) {
			byCall[it.Get("Linkedid")] = append(byCall[it.Get("Linkedid")], it)
		}
	}
	uids := make([]string, 0, len(live))
	for uid, it := range live {
		if placed(it) {
			uids = append(uids, uid)
		}
	}
	// In a steady order: the orders of one reconciliation go out the same
	// way each time.
	slices.Sort(uids)
	// Every pair first, then the decisions: a Local channel's far side
	// (a ring group's) is known only once both its halves' dials are.
	var dsts []*channel
	for _, uid := range uids {
		dst := t.channels[uid]
		if dst == nil || dst.dialedBy != nil || t.inConversation(dst) {
			continue
		}
		from, target := dialler(byCall[live[uid].Get("Linkedid")], dst.name)
		src := t.channels[from]
		if src == nil || src == dst || t.inConversation(src) {
			continue
		}
		dst.dialedBy = src
		if n := dialledNumber(target); n != "" && dst.dialled == "" {
			dst.dialled = strings.Clone(n)
		}
		dsts = append(dsts, dst)
	}
	for _, dst := range dsts {
		t.decide(ctx, "dial", []*channel{dst.dialedBy, dst})
	}
}

// placed tells whether a listed channel was placed by a Dial or a Queue.
func placed(it Event) bool {
	return strings.EqualFold(strings.TrimSpace(it.Get("ApplicationData")), outgoingLine)
}

// inConversation tells whether c is in a bridge with another party.
func (t *Tracker) inConversation(c *channel) bool {
	return c.bridge != "" && len(t.bridges[c.bridge]) >= 2
}

// dialler picks, among the diallers of one call, the one that placed the
// channel named name: the only one, else the only Dial whose targets name
// name's device. It returns its unique ID and the target that names the
// channel ("" when none does), or "" when none or several qualify.
func dialler(diallers []Event, name string) (uniqueid, target string) {
	dev := device(name)
	var found []Event
	var targets []string
	for _, d := range diallers {
		tg := ""
		if strings.EqualFold(d.Get("Application"), "dial") {
			tg = matchTarget(d.Get("ApplicationData"), dev)
		}
		if tg != "" {
			found = append(found, d)
			targets = append(targets, tg)
		}
	}
	switch {
	case len(found) == 1:
		return found[0].Get("Uniqueid"), targets[0]
	case len(diallers) == 1:
		return diallers[0].Get("Uniqueid"), ""
	}
	return "", ""
}

// matchTarget returns the target of a Dial's arguments (its first
// argument: targets joined by '&') that dials device dev, or "".
func matchTarget(data, dev string) string {
	args, _, _ := strings.Cut(data, ",")
	for _, tg := range strings.Split(args, "&") {
		tg = strings.TrimSpace(tg)
		if tg != "" && strings.EqualFold(targetDevice(tg), dev) {
			return tg
		}
	}
	return ""
}

// targetDevice is the device a Dial target calls: PJSIP/<number>@<endpoint>
// and PJSIP/<endpoint>/<URI> call PJSIP/<endpoint>; Local/<exten>@<context>/<options>
// calls Local/<exten>@<context>; TECH/<resource>/<options> calls
// TECH/<resource>.
func targetDevice(tg string) string {
	tech, res, ok := strings.Cut(tg, "/")
	if !ok {
		return tg
	}
	if strings.EqualFold(tech, "PJSIP") || strings.EqualFold(tech, "SIP") {
		res, _, _ = strings.Cut(res, "/")
		if _, ep, ok := strings.Cut(res, "@"); ok {
			res = ep
		}
		return tech + "/" + res
	}
	res, _, _ = strings.Cut(res, "/")
	return tech + "/" + res
}

// device is the device of a channel's name: PJSIP/235-0000001a is
// PJSIP/235, Local/ring@city-00000003;1 is Local/ring@city.
func device(name string) string {
	if i := strings.LastIndexByte(name, ';'); i >= 0 && strings.HasPrefix(strings.ToLower(name), "local/") {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, '-'); i > strings.IndexByte(name, '/') {
		name = name[:i]
	}
	return name
}
