package doctor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/villedemercier/recpolicy/ami"
)

// amiActions are the actions the daemon sends, each with the write class
// manager.conf must grant for it (Asterisk 22; none for BridgeList).
var amiActions = []struct{ action, class string }{
	{"MixMonitor", "system"}, {"StopMixMonitor", "call"}, {"Setvar", "call"}, {"Getvar", "call"},
	{"CoreShowChannels", "reporting"}, {"BridgeList", ""}, {"Filter", "system"},
	// CoreStatus (write = system or reporting) names the run of Asterisk a
	// session talks to: without it recordings start by unique ID, slow
	// under a burst (see mixmonitor).
	{"CoreStatus", "reporting"},
}

// amiReadClasses are the event classes the daemon reads.
var amiReadClasses = []string{"call", "cdr", "system", "dialplan", "reporting"}

// checkAMI logs in as the daemon does, lists the actions the user may
// send, reads manager.conf's read classes when it can, follows each
// carrier trunk into the dialplan, and compares Asterisk's clock.
func checkAMI(ctx context.Context, r *Report, o Options) {
	const managerConf = "manager.conf"
	cfg := o.Config.AMI
	secret, err := cfg.Secret.Resolve()
	if err != nil {
		r.fail("AMI login", err.Error(), "write the AMI user's secret where ami.secret names it", o.ConfigFile)
		return
	}
	c := ami.NewClient(ami.Config{Addr: cfg.Address, Username: cfg.Username, Secret: secret, Events: "off",
		DialTimeout: 5 * time.Second, ActionTimeout: 5 * time.Second, MinBackoff: time.Second, MaxBackoff: time.Second}, o.Log)
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = c.Run(cctx) }()
	defer func() { cancel(); wg.Wait() }()
	for !c.Connected() && c.LastError() == nil && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	if !c.Connected() {
		err := c.LastError()
		if err == nil {
			err = ctx.Err()
		}
		if errors.Is(err, ami.ErrAuth) {
			r.fail("AMI login", fmt.Sprintf("Asterisk refused user %s at %s", cfg.Username, cfg.Address),
				"make ami.username and its secret match a [section] of manager.conf (secret =, permit = this machine)", filepath.Join(o.AsteriskEtc, managerConf))
		} else {
			r.fail("AMI login", fmt.Sprintf("no AMI at %s: %v", cfg.Address, err),
				"start Asterisk, or set ami.address to its AMI (manager.conf [general] enabled = yes, port, bindaddr)", o.ConfigFile)
		}
		return
	}
	r.ok("AMI login", fmt.Sprintf("user %s at %s", cfg.Username, cfg.Address))

	// ListCommands answers the actions this user may send.
	resp, err := c.Action(ctx, "ListCommands")
	if err != nil {
		r.fail("AMI permissions", "ListCommands: "+err.Error(), "", "")
	} else {
		var missing []string
		for _, a := range amiActions {
			switch {
			case resp.Get(a.action) != "":
			case a.class == "":
				missing = append(missing, a.action+" (a core action every user may send: check the Asterisk version)")
			default:
				missing = append(missing, a.action+" (write = "+a.class+")")
			}
		}
		if len(missing) > 0 {
			r.fail("AMI permissions", "user "+cfg.Username+" may not send "+strings.Join(missing, ", "),
				"grant the user write = system,call,reporting", filepath.Join(o.AsteriskEtc, managerConf)+" ["+cfg.Username+"]")
		} else {
			r.ok("AMI permissions", "may send "+actionNames())
		}
	}
	checkManagerConf(r, o)
	checkDialplan(ctx, r, o, c)
	checkAsteriskClock(ctx, r, o, c)
}

func actionNames() string {
	var n []string
	for _, a := range amiActions {
		n = append(n, a.action)
	}
	return strings.Join(n, ", ")
}

// checkManagerConf reads the user's read classes (what events Asterisk
// sends it), which no action reports.
func checkManagerConf(r *Report, o Options) {
	file := filepath.Join(o.AsteriskEtc, "manager.conf")
	sections, err := readConf(file)
	if err != nil {
		r.warn("AMI events", fmt.Sprintf("cannot read %s here (%v), so the events the user receives are not checked", file, errors.Unwrap(err)),
			"on the PBX, give the user read = "+strings.Join(amiReadClasses, ","), file)
		return
	}
	user := o.Config.AMI.Username
	sec, ok := sections[user]
	if !ok {
		r.fail("AMI events", "no ["+user+"] section", "add the user with read = "+strings.Join(amiReadClasses, ","), file)
		return
	}
	read := classes(sec["read"])
	var missing []string
	for _, c := range amiReadClasses {
		if !read[c] && !read["all"] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		r.fail("AMI events", "user "+user+" does not receive "+strings.Join(missing, ", ")+" events (calls would go unseen)",
			"set read = "+strings.Join(amiReadClasses, ",")+" in ["+user+"]", file)
	} else {
		r.ok("AMI events", "user "+user+" receives "+strings.Join(amiReadClasses, ", "))
	}
	if g := sections["general"]; !strings.EqualFold(first(g["timestampevents"]), "yes") {
		r.warn("AMI event times", "timestampevents is off: the recording-start metric counts from arrival, not from Asterisk's own time",
			"set timestampevents = yes in [general]", file)
	}
}

func classes(vals []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range vals {
		for _, c := range strings.Split(v, ",") {
			m[strings.ToLower(strings.TrimSpace(c))] = true
		}
	}
	return m
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return strings.TrimSpace(v[0])
}

// checkDialplan follows each carrier trunk's endpoint to its context and
// checks that context sends calls to recpolicy-inbound (the greeting), and
// that the include itself is loaded.
func checkDialplan(ctx context.Context, r *Report, o Options, c *ami.Client) {
	const check = "dialplan include"
	const inbound = "recpolicy-inbound"
	items, err := c.List(ctx, "ShowDialPlan", ami.Header{Key: "Context", Value: inbound})
	if err != nil || len(items) == 0 {
		r.fail(check, "the context "+inbound+" is not loaded", "copy dialplan/recpolicy.conf (/usr/share/recpolicy/dialplan/) to the PBX, #include recpolicy.conf, then dialplan reload",
			filepath.Join(o.AsteriskEtc, "extensions.conf"))
		return
	}
	for _, trunk := range o.Rules.Trunks() {
		ep, err := c.List(ctx, "PJSIPShowEndpoint", ami.Header{Key: "Endpoint", Value: trunk})
		context := ""
		for _, m := range ep {
			if m.Event() == "EndpointDetail" {
				context = m.Get("Context")
				lang := m.Get("Language")
				if lang == "" {
					lang = "en" // Asterisk's default
				}
				if !slices.Contains(r.trunkLangs, lang) {
					r.trunkLangs = append(r.trunkLangs, lang)
				}
			}
		}
		if err != nil || context == "" {
			r.fail(check, fmt.Sprintf("the rules' trunk %s is not a PJSIP endpoint of this PBX", trunk), "name the carrier's endpoint under trunks:", o.Config.RulesFile)
			continue
		}
		plan, err := c.List(ctx, "ShowDialPlan", ami.Header{Key: "Context", Value: context})
		reached := false
		for _, m := range plan {
			if strings.Contains(m.Get("AppData"), inbound) || m.Get("IncludeContext") == inbound {
				reached = true
			}
		}
		if err != nil || !reached {
			r.fail(check, fmt.Sprintf("calls from trunk %s enter context %s, which never goes to %s: its callers would not hear the greeting", trunk, context, inbound),
				"in ["+context+"]: exten => _X.,1,Goto("+inbound+",${EXTEN},1)", filepath.Join(o.AsteriskEtc, "extensions.conf"))
			continue
		}
		r.ok(check, fmt.Sprintf("trunk %s → [%s] → %s", trunk, context, inbound))
	}
}

// checkAsteriskClock compares Asterisk's clock (the Timestamp of its
// answer to Ping, seconds since the epoch) with this machine's.
func checkAsteriskClock(ctx context.Context, r *Report, o Options, c *ami.Client) {
	sent := o.Now()
	resp, err := c.Action(ctx, "Ping")
	back := o.Now()
	if err != nil {
		r.warn("clock (Asterisk)", "Ping: "+err.Error(), "", "")
		return
	}
	secs, err := strconv.ParseFloat(resp.Get("Timestamp"), 64)
	if err != nil {
		r.warn("clock (Asterisk)", fmt.Sprintf("Asterisk's Ping answer has no readable Timestamp (%q)", resp.Get("Timestamp")), "", "")
		return
	}
	pbx := time.Unix(0, int64(secs*1e9))
	mid := sent.Add(back.Sub(sent) / 2)
	d := skew(mid, pbx)
	if d > o.MaxSkew {
		r.fail("clock (Asterisk)", fmt.Sprintf("Asterisk's clock is %s from this machine's", d.Round(time.Millisecond)),
			"synchronise both machines with NTP (systemd-timesyncd or chrony): recordings are named and kept by these times", "/etc/systemd/timesyncd.conf")
		return
	}
	r.ok("clock (Asterisk)", fmt.Sprintf("within %s of this machine", d.Round(time.Millisecond)))
}

// skew is |a-b|.
func skew(a, b time.Time) time.Duration {
	d := a.Sub(b)
	if d < 0 {
		d = -d
	}
	return d
}

// readConf reads an Asterisk .conf file: sections of key = value (or
// key => value), comments after ';'. Values of a key repeated are kept in
// order.
func readConf(path string) (map[string]map[string][]string, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string][]string{}
	var cur map[string][]string
	for _, ln := range strings.Split(string(b), "\n") {
		if i := strings.Index(ln, ";"); i >= 0 {
			ln = ln[:i]
		}
		ln = strings.TrimSpace(ln)
		if ln == "" {
			continue
		}
		if strings.HasPrefix(ln, "[") {
			name := strings.TrimSpace(strings.Trim(strings.SplitN(ln, "]", 2)[0], "["))
			cur = map[string][]string{}
			out[name] = cur
			continue
		}
		k, v, ok := strings.Cut(ln, "=")
		if !ok || cur == nil {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(strings.TrimPrefix(v, ">"))
		cur[k] = append(cur[k], v)
	}
	return out, nil
}
