package engine

import (
	"context"
	"slices"
	"strings"
)

// outgoingLine is the application data Asterisk gives a channel that a
// Dial or a Queue placed: app_dial's are "AppDial", app_queue's
// "AppQueue" (an Originate's or a Page's, "AppDial2", have no dialler in
// the listing; FollowMe's set none).
const outgoingLine = "(Outgoing Line)"

// unseenDial is the reason of a decision taken on a dial the tracker never
// read (reconcileDials): it only starts recordings.
const unseenDial = "unseen dial"

// reconcileDials decides the dials a reconnection's listing shows in
// progress whose DialBegin the tracker never read (made while the daemon
// could not see the PBX: a cut AMI session, a daemon restart), so that
// their recordings start before the answer rather than at the bridge. A
// channel app_dial placed (application AppDial, data "(Outgoing Line)") is
// paired with the one channel of its call (linkedid) running Dial whose
// targets name its device (a ring group through Local channels has
// several Dials; a forward's leg, whose device no target names, is left
// out); one app_queue placed (AppQueue) with the one channel of its call
// running Queue. Pairs are not made when either channel already carries a
// recording (adopted: its call is decided at its bridge, as before), or
// when whether one does is not known (skip: Running failed), nor for a
// channel already in a bridge with another party, which the bridge's
// decision covers. A destination that cannot be paired is left to its
// bridge, one round trip late. The decisions only start recordings:
// a pair judged not to be recorded stops nothing.
func (t *Tracker) reconcileDials(ctx context.Context, live map[string]Event, skip map[string]bool) {
	byCall := make(map[string][]Event)
	for _, it := range live {
		if app := it.Get("Application"); strings.EqualFold(app, "Dial") || strings.EqualFold(app, "Queue") {
			byCall[it.Get("Linkedid")] = append(byCall[it.Get("Linkedid")], it)
		}
	}
	// The channels a Dial or a Queue placed, and which.
	placedBy := make(map[string]string)
	uids := make([]string, 0, len(live))
	for uid, it := range live {
		if app := placed(it); app != "" {
			placedBy[uid] = app
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
		if dst == nil || dst.dialedBy != nil || dst.rec != nil || skip[uid] || t.inConversation(dst) {
			continue
		}
		from, target := dialler(byCall[live[uid].Get("Linkedid")], placedBy[uid], dst.name)
		src := t.channels[from]
		if src == nil || src == dst || src == t.localPeer(dst) || src.rec != nil || skip[from] || t.inConversation(src) {
			continue
		}
		dst.dialedBy = src
		if n := dialledNumber(target); n != "" && dst.dialled == "" {
			dst.dialled = strings.Clone(n)
		}
		dsts = append(dsts, dst)
	}
	for _, dst := range dsts {
		t.decide(ctx, unseenDial, []*channel{dst.dialedBy, dst})
	}
}

// placed returns the application that placed a listed channel ("Dial" or
// "Queue"), or "" for a channel no Dial or Queue placed.
func placed(it Event) string {
	if !strings.EqualFold(strings.TrimSpace(it.Get("ApplicationData")), outgoingLine) {
		return ""
	}
	switch app := it.Get("Application"); {
	case strings.EqualFold(app, "AppDial"):
		return "Dial"
	case strings.EqualFold(app, "AppQueue"):
		return "Queue"
	}
	return ""
}

// inConversation tells whether c is in a bridge with another party.
func (t *Tracker) inConversation(c *channel) bool {
	return c.bridge != "" && len(t.bridges[c.bridge]) >= 2
}

// dialler picks, among the channels of one call running Dial or Queue,
// the one that placed the channel named name with app: for Dial, the only
// Dial whose targets name name's device, with that target; for Queue, the
// only Queue. It returns "" when none or several qualify.
func dialler(diallers []Event, app, name string) (uniqueid, target string) {
	dev := device(name)
	n := 0
	for _, d := range diallers {
		if !strings.EqualFold(d.Get("Application"), app) {
			continue
		}
		tg := ""
		if app == "Dial" {
			if tg = matchTarget(d.Get("ApplicationData"), dev); tg == "" {
				continue
			}
		}
		n++
		uniqueid, target = d.Get("Uniqueid"), tg
	}
	if n != 1 {
		return "", ""
	}
	return uniqueid, target
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
