package rules

// BridgeDecision is the decision for parties talking together: a dial's two
// ends, or every member of a bridge (a conference, a transfer in
// progress).
type BridgeDecision struct {
	// Classes holds each party's class, in the order given.
	Classes []Class
	// Parties holds each party's decision, in the order given: Record for
	// an Annexe A extension with an external party among the others (its
	// Extension, Confidential, Rule and Reason say whose recording and
	// why); otherwise why it is not recorded.
	Parties []Decision
	// Veto is set when a never_record phone takes part: nothing in the
	// bridge is recorded, whatever else.
	Veto *Decision
	// Confidential: a confidential Annexe A extension takes part.
	Confidential bool
}

// Recorded tells whether any party is recorded.
func (b BridgeDecision) Recorded() bool {
	for _, d := range b.Parties {
		if d.Record {
			return true
		}
	}
	return false
}

// DecideBridge decides for parties talking together. A never_record phone
// among them vetoes the bridge: no party is recorded. Otherwise each Annexe
// A extension is recorded, as its own recording, when an external party is
// among the others; every other party is not, with the reason of its
// pairing with the others (Decide). With two parties it is Decide, seen
// from each side.
func (r *Rules) DecideBridge(parties []Party) BridgeDecision {
	b := BridgeDecision{Classes: make([]Class, len(parties)), Parties: make([]Decision, len(parties))}
	for i, p := range parties {
		b.Classes[i] = r.Classify(p)
		b.Confidential = b.Confidential || b.Classes[i].Confidential
	}
	for i, a := range parties {
		var no Decision
		for j, o := range parties {
			if i == j {
				continue
			}
			d := r.Decide(a, o)
			if d.Rule == RuleNeverRecord && b.Veto == nil {
				dd := d
				b.Veto = &dd
			}
			if d.Record && (b.Classes[i].Kind == KindExtension && b.Classes[i].Extension == d.Extension ||
				d.Instruction != "" && partyNumber(a) == d.Extension) {
				b.Parties[i] = d
				continue
			}
			switch {
			case !d.Record:
				no = d
			case no.Rule == "":
				// Recorded, as the other party's recording: this one is
				// heard in it, not recorded for itself.
				no = Decision{Rule: d.Rule, Reason: d.Reason}
			}
		}
		if !b.Parties[i].Record {
			b.Parties[i] = no
		}
	}
	if b.Veto != nil {
		for i := range b.Parties {
			b.Parties[i] = *b.Veto
		}
	}
	return b
}
