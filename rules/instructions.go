package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// RuleInstruction names a decision an exceptional instruction changed.
const RuleInstruction = "instruction"

// Effects of an exceptional instruction.
const (
	// EffectSuspend: the named Annexe A extensions' calls are not recorded
	// within the window.
	EffectSuspend = "suspend"
	// EffectRecord: the named city phones outside Annexe A have their
	// external calls recorded within the window (never a never_record
	// phone).
	EffectRecord = "record"
	// EffectRetain: the named extensions' recordings made within the
	// window are kept under the named retention class.
	EffectRetain = "retain"
)

// maxInstructionWindow caps an instruction's window: an exceptional
// situation, renewed by a new written instruction if it lasts.
const maxInstructionWindow = 366 * 24 * time.Hour

// Instruction is an exceptional instruction of the mayor or the director
// general (the policy: "la mairesse ou le directeur général peuvent donner
// d'autres instructions en situation exceptionnelle"), in force from From
// until Until only.
type Instruction struct {
	ID         string
	Role       string // mairesse, maire, directeur général, directrice générale
	Name       string // who gave it
	Reference  string // the written instruction's reference
	From       time.Time
	Until      time.Time
	Effect     string
	Extensions []string
	Class      string // EffectRetain: the retention class
	Reason     string
}

// InForce tells whether the instruction applies at t.
func (in Instruction) InForce(t time.Time) bool { return !t.Before(in.From) && t.Before(in.Until) }

// Describe names the instruction for decisions and reports: "DG-2026-07
// (directeur général Paul Gagnon, note 2026-11-20) from … until …".
func (in Instruction) Describe(loc *time.Location) string {
	return fmt.Sprintf("instruction %s (%s %s, %s) from %s until %s", in.ID, in.Role, in.Name, in.Reference,
		in.From.In(loc).Format("2006-01-02 15:04"), in.Until.In(loc).Format("2006-01-02 15:04"))
}

// Instructions returns every exceptional instruction of the file, in force
// or not.
func (r *Rules) Instructions() []Instruction { return slices.Clone(r.instructions) }

// At returns the rules as they apply at t: the same rules, with the
// exceptional instructions in force at t applied by Decide, DecideBridge
// and RetentionClassAt. A call decided at t keeps them for that decision.
func (r *Rules) At(t time.Time) *Rules {
	var active []Instruction
	for _, in := range r.instructions {
		if in.InForce(t) {
			active = append(active, in)
		}
	}
	if len(active) == 0 && len(r.active) == 0 {
		return r
	}
	c := *r
	c.active = active
	return &c
}

// RetentionClassAt is the retention class of a recording of ext that
// started at t: a retain instruction in force names one; else "".
func (r *Rules) RetentionClassAt(ext string, t time.Time) (class, instruction string) {
	for _, in := range r.instructions {
		if in.Effect == EffectRetain && in.InForce(t) && slices.Contains(in.Extensions, ext) {
			return in.Class, in.ID
		}
	}
	return "", ""
}

// partyNumber is a party's phone: its endpoint, else its number.
func partyNumber(p Party) string {
	if s := strings.TrimSpace(p.Endpoint); s != "" {
		return s
	}
	return strings.TrimSpace(p.Number)
}

// instruct applies the instructions in force (At) to a pairing's
// decision d.
func (r *Rules) instruct(a, b Party, d Decision) Decision {
	for _, in := range r.active {
		switch in.Effect {
		case EffectSuspend:
			if d.Record && slices.Contains(in.Extensions, d.Extension) {
				return Decision{Extension: d.Extension, Confidential: d.Confidential, Rule: RuleInstruction, Instruction: in.ID,
					Reason: fmt.Sprintf("recording of %s suspended by %s; without it: %s", d.Extension, in.Describe(r.loc), d.Reason)}
			}
		case EffectRecord:
			if d.Record || d.Rule == RuleNeverRecord {
				continue
			}
			ca, cb := r.Classify(a), r.Classify(b)
			for _, s := range []struct {
				p     Party
				c, oc Class
			}{{a, ca, cb}, {b, cb, ca}} {
				if num := partyNumber(s.p); s.c.Kind == KindInternal && s.oc.Kind == KindExternal && slices.Contains(in.Extensions, num) {
					return Decision{Record: true, Extension: num, Rule: RuleInstruction, Instruction: in.ID,
						Reason: fmt.Sprintf("%s's external call recorded by %s", num, in.Describe(r.loc))}
				}
			}
		}
	}
	return d
}

// instructionRoles are who may give an exceptional instruction.
var instructionRoles = []string{"mairesse", "maire", "directeur général", "directrice générale"}

// instructionTime reads an instruction's instant in the rules' zone.
func instructionTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date and time")
}

// instructions validates the exceptional instructions: who gave them, the
// written reference, a closed window, an effect the policy allows on
// extensions that exist.
func (v *validator) instructions(raw []rawInstruction) {
	loc := v.r.loc
	if loc == nil {
		loc = time.UTC
	}
	seen := map[string]*yaml.Node{}
	for _, ri := range raw {
		in := Instruction{}
		ok := true
		if v.nonEmpty(ri.ID, "instructions id", "DG-2026-07") {
			if prev := seen[ri.ID.V]; prev != nil {
				v.errs.at(ri.ID.N, "instruction %s is listed twice (first %s); give each its own id", quote(ri.ID.V), firstAt(prev, ri.ID.N))
				ok = false
			}
			seen[ri.ID.V] = ri.ID.N
			in.ID = ri.ID.V
		} else {
			ok = false
		}
		if v.nonEmpty(ri.Role, "instructions role", "mairesse") {
			role := strings.ToLower(strings.TrimSpace(ri.Role.V))
			if !slices.Contains(instructionRoles, role) {
				v.errs.at(ri.Role.N, "instruction role %s: only the mayor or the director general gives exceptional instructions (the policy); write %s", quote(ri.Role.V), strings.Join(instructionRoles, ", "))
				ok = false
			}
			in.Role = role
		} else {
			ok = false
		}
		ok = v.nonEmpty(ri.Name, "instructions name", `"Paul Gagnon"`) && ok
		ok = v.nonEmpty(ri.Reference, "instructions reference", `"note DG-2026-07 du 2026-11-20"`) && ok
		in.Name, in.Reference, in.Reason = ri.Name.V, ri.Reference.V, ri.Reason.V
		var err error
		if v.nonEmpty(ri.From, "instructions from", "2026-11-21T08:00") {
			if in.From, err = instructionTime(ri.From.V, loc); err != nil {
				v.errs.at(ri.From.N, "instruction from %s is not a date and time; write 2026-11-21T08:00 (in the rules' time zone)", quote(ri.From.V))
				ok = false
			}
		} else {
			ok = false
		}
		if v.nonEmpty(ri.Until, "instructions until", "2026-11-28T08:00") {
			if in.Until, err = instructionTime(ri.Until.V, loc); err != nil {
				v.errs.at(ri.Until.N, "instruction until %s is not a date and time; write 2026-11-28T08:00 (in the rules' time zone)", quote(ri.Until.V))
				ok = false
			}
		} else {
			ok = false
		}
		if !in.From.IsZero() && !in.Until.IsZero() {
			switch {
			case !in.Until.After(in.From):
				v.errs.at(ri.Until.N, "instruction %s ends (%s) before it starts (%s); give until after from", in.ID, ri.Until.V, ri.From.V)
				ok = false
			case in.Until.Sub(in.From) > maxInstructionWindow:
				v.errs.at(ri.Until.N, "instruction %s lasts more than a year: an exceptional instruction is never open-ended; give a shorter window and a new written instruction to renew it", in.ID)
				ok = false
			}
		}
		for _, x := range ri.Extensions {
			in.Extensions = append(in.Extensions, strings.TrimSpace(x.V))
		}
		if len(ri.Extensions) == 0 && ri.N != nil {
			v.errs.at(ri.N, "instruction %s names no extension; give extensions: [245]", in.ID)
			ok = false
		}
		if v.nonEmpty(ri.Effect, "instructions effect", "suspend") {
			in.Effect = strings.TrimSpace(ri.Effect.V)
			switch in.Effect {
			case EffectSuspend, EffectRetain:
				for _, x := range ri.Extensions {
					if _, isExt := v.r.extByNumber[strings.TrimSpace(x.V)]; !isExt {
						v.errs.at(x.N, "instruction %s: %s is not an Annexe A extension; %s applies to Annexe A extensions", in.ID, quote(x.V), in.Effect)
						ok = false
					}
				}
				if in.Effect == EffectRetain {
					if _, known := v.r.retention[ri.Class.V]; !ri.Class.ok() || !known {
						v.errs.at(ri.N, "instruction %s keeps recordings: name a retention class of the file, e.g. class: litigation", in.ID)
						ok = false
					}
					in.Class = ri.Class.V
				}
			case EffectRecord:
				for _, x := range ri.Extensions {
					num := strings.TrimSpace(x.V)
					if _, never := v.r.neverByEnd[num]; never {
						v.errs.at(x.N, "instruction %s: %s is never recorded (never_record: the policy excludes it); no instruction records it", in.ID, quote(x.V))
						ok = false
					} else if _, isExt := v.r.extByNumber[num]; isExt {
						v.errs.at(x.N, "instruction %s: %s is in Annexe A, already recorded; record names phones outside Annexe A", in.ID, quote(x.V))
						ok = false
					}
				}
			default:
				v.errs.at(ri.Effect.N, "instruction %s effect %s is unknown; use suspend, record or retain", in.ID, quote(ri.Effect.V))
				ok = false
			}
		} else {
			ok = false
		}
		if ok {
			v.r.instructions = append(v.r.instructions, in)
		}
	}
}
