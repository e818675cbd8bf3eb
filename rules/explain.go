package rules

import (
	"fmt"
	"strings"
)

// ExplainParties turns the arguments of "recpolicy rules test --from X
// --to Y [--via TRUNK]" into the two parties the daemon would see. from
// and to are numbers or endpoint names: a trunk, an extension's endpoint
// or number, or a never_record phone's endpoint or number are recognised
// as such. Any other value is a number: with via (a trunk of the rules),
// it becomes an external party reached through that trunk; without via,
// it is a party without endpoint, classified by its number.
func (r *Rules) ExplainParties(from, to, via string) (a, b Party, err error) {
	via = strings.TrimSpace(via)
	if via != "" && !r.trunkSet[via] {
		if len(r.trunks) == 0 {
			return Party{}, Party{}, fmt.Errorf("--via %s is not a trunk of the rules file", quote(via))
		}
		return Party{}, Party{}, fmt.Errorf("--via %s is not a trunk of the rules file (trunks: %s)", quote(via), strings.Join(r.trunks, ", "))
	}
	if strings.TrimSpace(from) == "" && strings.TrimSpace(to) == "" {
		return Party{}, Party{}, fmt.Errorf("give the calling party (--from) or the called party (--to)")
	}
	return r.resolve(from, via), r.resolve(to, via), nil
}

// resolve makes one party of Explain's arguments.
func (r *Rules) resolve(s, via string) Party {
	s = strings.TrimSpace(s)
	if s == "" {
		return Party{Endpoint: via}
	}
	if r.trunkSet[s] {
		return Party{Endpoint: s}
	}
	if i, ok := r.extByEnd[s]; ok {
		return Party{Endpoint: s, Number: r.extensions[i].Number}
	}
	if i, ok := r.extByNumber[s]; ok {
		return Party{Endpoint: r.extensions[i].Endpoint, Number: s}
	}
	if i, ok := r.neverByEnd[s]; ok {
		return Party{Endpoint: s, Number: r.never[i].Number}
	}
	if i, ok := r.neverByDigits[digitsOf(s)]; ok && digitsOf(s) != "" {
		return Party{Endpoint: r.never[i].Endpoint, Number: s}
	}
	return Party{Endpoint: via, Number: s}
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
