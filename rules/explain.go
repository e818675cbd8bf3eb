package rules

import (
	"fmt"
	"strings"
)

// ExplainParties turns the arguments of "recpolicy rules test --from X
// --to Y [--via TRUNK]" into the two parties the daemon would see.
//
// A value written NUMBER@TRUNK is a party on that trunk (a carrier trunk or
// a site link) presenting NUMBER as its caller ID, or dialled as NUMBER
// ("@TRUNK" alone presents no number). --via TRUNK puts the outside party
// on TRUNK: the caller (--from: "caller ID X arriving on trunk TRUNK"),
// except for an outbound call, where --from is a phone of this PBX and --to
// is not: then the called number leaves through TRUNK. Any other value is
// a phone of this PBX when it names one (an endpoint, or an Annexe A or
// never_record number, resolved to its endpoint), a party on a trunk when
// it is a trunk's name, and otherwise a party without an endpoint of its
// own (a Local channel) known by that number.
func (r *Rules) ExplainParties(from, to, via string) (a, b Party, err error) {
	from, to, via = strings.TrimSpace(from), strings.TrimSpace(to), strings.TrimSpace(via)
	if via != "" {
		if err := r.checkTrunk("--via", via); err != nil {
			return Party{}, Party{}, err
		}
	}
	if from == "" && to == "" {
		return Party{}, Party{}, fmt.Errorf("give the calling party (--from) or the called party (--to)")
	}
	if via != "" {
		switch {
		case strings.Contains(from, "@") || strings.Contains(to, "@"):
			return Party{}, Party{}, fmt.Errorf("--via %s and NUMBER@TRUNK say the same thing; use one of them", quote(via))
		case r.isPhone(from) && to != "" && !r.isPhone(to):
			to += "@" + via // outbound: the called number leaves through the trunk
		default:
			from += "@" + via
		}
	}
	if a, err = r.resolve("--from", from); err != nil {
		return Party{}, Party{}, err
	}
	if b, err = r.resolve("--to", to); err != nil {
		return Party{}, Party{}, err
	}
	return a, b, nil
}

// ExplainBridge is ExplainParties with more parties in the same bridge
// (a conference, a transfer in progress), each read like --to.
func (r *Rules) ExplainBridge(from, to, via string, more []string) ([]Party, error) {
	a, b, err := r.ExplainParties(from, to, via)
	if err != nil {
		return nil, err
	}
	parties := []Party{a, b}
	for _, m := range more {
		p, err := r.resolve("--party", strings.TrimSpace(m))
		if err != nil {
			return nil, err
		}
		parties = append(parties, p)
	}
	return parties, nil
}

// checkTrunk tells whether name is a carrier trunk or a site link.
func (r *Rules) checkTrunk(flag, name string) error {
	if r.trunkSet[name] {
		return nil
	}
	if _, ok := r.siteByEnd[name]; ok {
		return nil
	}
	known := append([]string(nil), r.trunks...)
	for _, l := range r.sites {
		known = append(known, l.Trunk+" (site link)")
	}
	if len(known) == 0 {
		return fmt.Errorf("%s %s is not a trunk of the rules file", flag, quote(name))
	}
	return fmt.Errorf("%s %s is not a trunk of the rules file (trunks: %s)", flag, quote(name), strings.Join(known, ", "))
}

// isPhone tells whether s names a phone of this PBX.
func (r *Rules) isPhone(s string) bool {
	_, ok := r.phone(s)
	return ok
}

// phone is the party of the phone of this PBX that s names (an endpoint,
// or an Annexe A or never_record number, resolved to its endpoint).
func (r *Rules) phone(s string) (Party, bool) {
	if i, ok := r.extByEnd[s]; ok {
		return Party{Endpoint: s, Number: r.extensions[i].Number}, true
	}
	if i, ok := r.extByNumber[s]; ok {
		return Party{Endpoint: r.extensions[i].Endpoint, Number: s}, true
	}
	if i, ok := r.neverByEnd[s]; ok {
		return Party{Endpoint: s, Number: r.never[i].Number}, true
	}
	if i, ok := r.neverByDigits[digitsOf(s)]; ok && digitsOf(s) != "" {
		return Party{Endpoint: r.never[i].Endpoint, Number: s}, true
	}
	return Party{}, false
}

// resolve makes one party of Explain's arguments.
func (r *Rules) resolve(flag, s string) (Party, error) {
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		num, trunk := strings.TrimSpace(s[:at]), strings.TrimSpace(s[at+1:])
		if err := r.checkTrunk(flag, trunk); err != nil {
			return Party{}, err
		}
		return Party{Endpoint: trunk, Number: num}, nil
	}
	if s == "" {
		return Party{}, nil
	}
	if r.trunkSet[s] {
		return Party{Endpoint: s}, nil
	}
	if _, ok := r.siteByEnd[s]; ok {
		return Party{Endpoint: s}, nil
	}
	if p, ok := r.phone(s); ok {
		return p, nil
	}
	return Party{Number: s}, nil
}

// Explain answers "would a call from → to (through trunk via) be
// recorded, and why?" for the CLI's "rules test" command. See
// ExplainParties for how the arguments are read; when they cannot be
// understood, the decision is not to record, with Rule RuleBadQuery and
// the problem as Reason.
func (r *Rules) Explain(from, to, via string) Decision {
	a, b, err := r.ExplainParties(from, to, via)
	if err != nil {
		return Decision{Rule: RuleBadQuery, Reason: err.Error()}
	}
	return r.Decide(a, b)
}

// DescribeClass says in a line how a party was classified and on what
// basis, for "rules test": "caller ID 899 on trunk carrier: external,
// decided by its endpoint (carrier trunk carrier; …)".
func (r *Rules) DescribeClass(p Party) string {
	c := r.Classify(p)
	var basis string
	switch c.By {
	case ByEndpoint:
		basis = "decided by its endpoint, never by a number it presents"
	case ByNumber:
		basis = "no endpoint of its own: decided by its number"
	case BySiteLink:
		basis = "on a site link: the number it presents is trusted for city numbers only"
	}
	kind := c.Kind.String()
	if c.Kind == KindExtension {
		kind += " " + c.Extension
	}
	return fmt.Sprintf("%s: %s, %s (%s)", p, kind, basis, c.Rule)
}
