package rules

import (
	"fmt"
	"strings"
)

// Kind is what a party of a call is, for the policy.
type Kind int

// The kinds of party. The zero value, KindInternal, is never recorded.
const (
	// KindInternal is a city phone outside Annexe A (or a party that
	// cannot be identified): its calls are not recorded.
	KindInternal Kind = iota
	// KindExtension is an Annexe A extension: its external calls are recorded.
	KindExtension
	// KindExternal is a party outside the city: a carrier trunk, or a
	// number matching an external number pattern.
	KindExternal
	// KindNeverRecord is a phone of never_record: no call it takes part
	// in is recorded.
	KindNeverRecord
)

// String returns the kind's name: internal, extension, external or never-record.
func (k Kind) String() string {
	switch k {
	case KindInternal:
		return "internal"
	case KindExtension:
		return "extension"
	case KindExternal:
		return "external"
	case KindNeverRecord:
		return "never-record"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// The rules a Decision can name.
const (
	RuleExternalCall = "external-call" // Annexe A extension with an external party: recorded
	RuleInternalCall = "internal-call" // between city phones: not recorded
	RuleNeverRecord  = "never-record"  // a never_record phone takes part: not recorded
	RuleNotAnnexeA   = "not-annexe-a"  // no Annexe A extension with the external party: not recorded
	RuleBadQuery     = "bad-query"     // Explain could not understand its arguments: not recorded
)

// Party describes one side of a bridged pairing, as the daemon sees it
// from a channel.
type Party struct {
	// Endpoint is the PJSIP endpoint name from the channel name, e.g.
	// "235" or "carrier"; "" for Local or unknown channels.
	Endpoint string
	// Number is the party's number: the caller ID number for the calling
	// side, the dialled number (Exten) for the called side. It may be ""
	// or withheld.
	Number string
}

// EndpointOf returns the endpoint an Asterisk channel name names:
// "PJSIP/235-0000001a" → "235"; "" for a Local channel or a technology
// without endpoints ("Local/200@internal-00000001;2").
func EndpointOf(channel string) string {
	tech, rest, ok := strings.Cut(channel, "/")
	if !ok {
		return ""
	}
	switch strings.ToUpper(tech) {
	case "PJSIP", "SIP", "IAX2":
	default:
		return ""
	}
	if dash := strings.LastIndexByte(rest, '-'); dash > 0 {
		rest = rest[:dash]
	}
	return rest
}

// String describes the party: "carrier (5145550100)", "235", "number 5145550100".
func (p Party) String() string {
	ep, num := strings.TrimSpace(p.Endpoint), strings.TrimSpace(p.Number)
	switch {
	case ep != "" && num != "" && num != ep:
		return ep + " (" + num + ")"
	case ep != "":
		return ep
	case num != "":
		return "number " + num
	}
	return "an unidentified party (no endpoint, no number)"
}

// Basis is what decided a party's class.
type Basis string

// The bases of a classification.
const (
	// ByEndpoint: the channel's own endpoint (a phone or a carrier trunk);
	// the number it presents plays no part.
	ByEndpoint Basis = "endpoint"
	// ByNumber: a party without an endpoint of its own (a Local channel
	// whose far side is unknown) is classified by its number.
	ByNumber Basis = "number"
	// BySiteLink: a party on a trunk to another of the city's PBX sites,
	// classified by the number it presents, trusted for city numbers only.
	BySiteLink Basis = "site-link"
)

// Class is the classification of one party.
type Class struct {
	Kind      Kind
	Extension string // the Annexe A number, when Kind is KindExtension
	Rule      string // which entry of the rules file matched, in words
	By        Basis  // what decided: the endpoint, the number, or a site link's trusted number
	// Confidential: an Annexe A extension of staff bound by professional
	// confidentiality (its calls are hidden from directors).
	Confidential bool
}

// Classify tells what a party is. The channel decides, never what a caller
// presents: a party with an endpoint is a never_record phone, a carrier
// trunk (external, whatever number it presents), a site link (see
// SiteLink), an Annexe A extension, or else a city phone outside Annexe A
// (internal). Only a party without an endpoint is classified by its
// number: a never_record number, an external number pattern, an Annexe A
// number, else internal.
func (r *Rules) Classify(p Party) Class {
	ep, num := strings.TrimSpace(p.Endpoint), strings.TrimSpace(p.Number)
	if ep == "" {
		return r.classifyNumber(num)
	}
	if i, ok := r.neverByEnd[ep]; ok {
		return Class{Kind: KindNeverRecord, By: ByEndpoint, Rule: fmt.Sprintf("never_record endpoint %s: %s", r.never[i].Endpoint, r.never[i].Reason)}
	}
	if r.trunkSet[ep] {
		rule := "carrier trunk " + ep
		if num != "" {
			rule += "; the number it presents (" + num + ") decides nothing on a carrier trunk"
		}
		return Class{Kind: KindExternal, By: ByEndpoint, Rule: rule}
	}
	if i, ok := r.siteByEnd[ep]; ok {
		return r.classifySite(r.sites[i], num)
	}
	if i, ok := r.extByEnd[ep]; ok {
		e := r.extensions[i]
		return Class{Kind: KindExtension, By: ByEndpoint, Extension: e.Number, Confidential: e.Confidential, Rule: "Annexe A extension " + e.Number + " (" + r.label(e) + ")"}
	}
	return Class{Kind: KindInternal, By: ByEndpoint, Rule: "endpoint " + ep + " is a city phone outside Annexe A"}
}

// classifyNumber classifies a party without an endpoint by its number.
func (r *Rules) classifyNumber(num string) Class {
	if d := digitsOf(num); d != "" {
		if i, ok := r.neverByDigits[d]; ok {
			return Class{Kind: KindNeverRecord, By: ByNumber, Rule: fmt.Sprintf("never_record number %s: %s", r.never[i].Number, r.never[i].Reason)}
		}
	}
	for _, pat := range r.numbers {
		if num != "" && pat.re.MatchString(num) {
			return Class{Kind: KindExternal, By: ByNumber, Rule: "external number pattern " + quote(pat.src)}
		}
	}
	if i, ok := r.extByNumber[num]; ok {
		e := r.extensions[i]
		return Class{Kind: KindExtension, By: ByNumber, Extension: e.Number, Confidential: e.Confidential, Rule: "Annexe A extension " + e.Number + " (" + r.label(e) + ")"}
	}
	if num == "" {
		return Class{Kind: KindInternal, By: ByNumber, Rule: "no endpoint and no number: cannot be shown to be external"}
	}
	return Class{Kind: KindInternal, By: ByNumber, Rule: "number " + num + " is neither external nor in Annexe A"}
}

// classifySite classifies a party arriving on a site link by the number
// it presents, trusted only for a city number: a never_record number, an
// Annexe A number, or one of the site's own numbers. Any other number, or
// none, is external, as on a carrier trunk.
func (r *Rules) classifySite(l SiteLink, num string) Class {
	on := " on site link " + l.Trunk + " (" + l.Name + ")"
	if d := digitsOf(num); d != "" {
		if i, ok := r.neverByDigits[d]; ok {
			return Class{Kind: KindNeverRecord, By: BySiteLink, Rule: fmt.Sprintf("never_record number %s%s: %s", r.never[i].Number, on, r.never[i].Reason)}
		}
	}
	if i, ok := r.extByNumber[num]; ok && num != "" {
		e := r.extensions[i]
		return Class{Kind: KindExtension, By: BySiteLink, Extension: e.Number, Confidential: e.Confidential, Rule: "Annexe A extension " + e.Number + " (" + r.label(e) + ")" + on}
	}
	for _, pat := range l.numbers {
		if num != "" && pat.re.MatchString(num) {
			return Class{Kind: KindInternal, By: BySiteLink, Rule: "number " + num + on + " matches the site's pattern " + quote(pat.src) + ": a city phone outside Annexe A"}
		}
	}
	if num == "" {
		return Class{Kind: KindExternal, By: BySiteLink, Rule: "no number presented" + on + ": not shown to be a city phone, so external"}
	}
	return Class{Kind: KindExternal, By: BySiteLink, Rule: "number " + num + on + " is not a city number: external, as on a carrier trunk"}
}

// Decision says whether a pairing is recorded, and why.
type Decision struct {
	Record       bool
	Extension    string // whose recording (Annexe A number) when Record
	Confidential bool   // the extension's recordings are hidden from directors
	Rule         string // short id of the deciding rule: RuleExternalCall, RuleInternalCall…
	Reason       string // a sentence for logs and the CLI
	// Instruction names the exceptional instruction that changed the
	// decision (Rule is then RuleInstruction).
	Instruction string
}

// Decide decides whether a pairing (two parties in one bridge) is
// recorded:
//   - a never_record phone on either side: not recorded, whatever else;
//   - an Annexe A extension with an external party: recorded, as that
//     extension's recording;
//   - two city phones (Annexe A or not): not recorded, internal call;
//   - otherwise (no Annexe A extension with the external party): not
//     recorded.
//
// Exceptional instructions in force (rules.At) then apply: a suspend turns
// a recorded pairing off, a record turns a named phone's external call on
// (never a never_record phone's).
func (r *Rules) Decide(a, b Party) Decision {
	return r.instruct(a, b, r.decide(a, b))
}

func (r *Rules) decide(a, b Party) Decision {
	ca, cb := r.Classify(a), r.Classify(b)
	if ca.Confidential || cb.Confidential {
		// A confidential extension's correspondents stay out of logs.
		a, b = maskOutside(a, ca), maskOutside(b, cb)
	}
	for _, side := range []struct {
		p Party
		c Class
	}{{a, ca}, {b, cb}} {
		if side.c.Kind == KindNeverRecord {
			return Decision{Rule: RuleNeverRecord, Reason: fmt.Sprintf("%s is never recorded (%s), whatever the other party", side.p, side.c.Rule)}
		}
	}
	ext, extParty, other, otherParty := ca, a, cb, b
	if cb.Kind == KindExtension && ca.Kind != KindExtension {
		ext, extParty, other, otherParty = cb, b, ca, a
	}
	switch {
	case ext.Kind == KindExtension && other.Kind == KindExternal:
		d := Decision{Record: true, Extension: ext.Extension, Rule: RuleExternalCall}
		if i, ok := r.extByNumber[ext.Extension]; ok {
			d.Confidential = r.extensions[i].Confidential
		}
		d.Reason = fmt.Sprintf("%s with %s", describeExternal(otherParty, other), describeExtension(extParty, ext))
		return d
	case ca.Kind == KindExternal && cb.Kind == KindExternal:
		return Decision{Rule: RuleNotAnnexeA, Reason: fmt.Sprintf("no Annexe A extension in the call: %s with %s", describeExternal(a, ca), describeExternal(b, cb))}
	case ca.Kind == KindExternal || cb.Kind == KindExternal:
		in, inParty, out, outParty := ca, a, cb, b
		if ca.Kind == KindExternal {
			in, inParty, out, outParty = cb, b, ca, a
		}
		return Decision{Rule: RuleNotAnnexeA, Reason: fmt.Sprintf("%s is not in Annexe A (%s); %s", inParty, in.Rule, describeExternal(outParty, out))}
	}
	return Decision{Rule: RuleInternalCall, Reason: fmt.Sprintf("internal call: %s with %s", describeSide(a, ca), describeSide(b, cb))}
}

// describeExtension names an Annexe A party in a reason.
func describeExtension(p Party, c Class) string {
	if p.Endpoint != "" && p.Endpoint != c.Extension {
		return c.Rule + " on endpoint " + p.Endpoint
	}
	return c.Rule
}

// describeExternal names an external party in a reason; the matching
// rule is left out when it is the party's own trunk.
func describeExternal(p Party, c Class) string {
	if strings.TrimSpace(p.Endpoint) != "" {
		return "external party " + p.String()
	}
	return "external party " + p.String() + " (" + c.Rule + ")"
}

// describeSide names a party of an internal call in a reason.
func describeSide(p Party, c Class) string {
	if c.Kind == KindExtension {
		return describeExtension(p, c)
	}
	return p.String() + " (" + c.Rule + ")"
}

// maskOutside hides all but the last two digits of an external party's
// number, for the reasons written about a confidential extension's calls.
func maskOutside(p Party, c Class) Party {
	if c.Kind != KindExternal {
		return p
	}
	p.Number = MaskNumber(p.Number)
	return p
}

// MaskNumber replaces every digit of a phone number but the last two by
// "x": "5145550100" → "xxxxxxxx00".
func MaskNumber(num string) string {
	digits := 0
	for _, ch := range num {
		if ch >= '0' && ch <= '9' {
			digits++
		}
	}
	out := []rune(num)
	seen := 0
	for i, ch := range out {
		if ch >= '0' && ch <= '9' {
			seen++
			if seen <= digits-2 {
				out[i] = 'x'
			}
		}
	}
	return string(out)
}
