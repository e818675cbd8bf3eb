package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/villedemercier/recpolicy/rules"
)

func rulesCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "recpolicy rules check: name at least one rules file")
		return 2
	}
	rc := 0
	for _, f := range args {
		r, err := loadRules(f)
		if err != nil {
			fmt.Fprintln(stderr, err)
			fmt.Fprintf(stderr, "%s: INVALID\n", f)
			rc = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: SUCCESS: %d extensions, %d departments\n", f, len(r.Extensions()), len(r.Departments()))
	}
	return rc
}

// splitFileFirst lets the file come before or after the flags.
func splitFileFirst(args []string) (string, []string) {
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		return args[0], args[1:]
	}
	return "", args
}

func rulesTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	file, rest := splitFileFirst(args)
	fs := flag.NewFlagSet("recpolicy rules test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "calling party: a phone of this PBX (endpoint or number), NUMBER@TRUNK, or a number")
	to := fs.String("to", "", "called party: a phone of this PBX (endpoint or number), NUMBER@TRUNK, or a number")
	via := fs.String("via", "", "trunk the outside party uses: --from arrives on it presenting that caller ID (for an outbound call from a phone, --to leaves through it)")
	var more partyList
	fs.Var(&more, "party", "another party in the same bridge, read like --to (repeat for a conference)")
	at := fs.String("at", "", "decide as at this date and time, e.g. 2026-11-21T09:00 (the exceptional instructions in force then apply); default now")
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	if file == "" || *from == "" || *to == "" {
		fmt.Fprintln(stderr, "recpolicy rules test: usage: recpolicy rules test FILE --from X --to Y [--via TRUNK] [--party Z]...")
		return 2
	}
	r, err := loadRules(file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	parties, err := r.ExplainBridge(*from, *to, *via, more)
	if err != nil {
		fmt.Fprintf(stderr, "recpolicy rules test: %v\n", err)
		return 2
	}
	when := time.Now()
	if *at != "" {
		if when, err = time.ParseInLocation("2006-01-02T15:04", *at, r.Location()); err != nil {
			fmt.Fprintf(stderr, "recpolicy rules test: --at %q: give a date and time such as 2026-11-21T09:00 (in the rules' time zone)\n", *at)
			return 2
		}
	}
	snap := r.At(when)
	writeBridgeDecision(stdout, snap, parties, snap.DecideBridge(parties))
	return 0
}

// partyList is a repeatable flag.
type partyList []string

func (p *partyList) String() string     { return strings.Join(*p, ",") }
func (p *partyList) Set(v string) error { *p = append(*p, v); return nil }

// writeBridgeDecision prints the daemon's decision for parties talking
// together: the verdict, the deciding rule and why, then each party, how
// it was classified and whether it is recorded.
func writeBridgeDecision(w io.Writer, r *rules.Rules, parties []rules.Party, bd rules.BridgeDecision) {
	var recorded []string
	lead := bd.Parties[0]
	for _, d := range bd.Parties {
		if d.Record {
			if len(recorded) == 0 {
				lead = d
			}
			recorded = append(recorded, "extension "+d.Extension+"'s recording")
		}
	}
	if bd.Veto != nil {
		lead = *bd.Veto
	}
	if len(recorded) > 0 {
		fmt.Fprintf(w, "RECORDED: %s\n", strings.Join(recorded, ", "))
	} else {
		fmt.Fprintln(w, "NOT RECORDED")
	}
	fmt.Fprintf(w, "rule: %s\nwhy: %s\n", lead.Rule, lead.Reason)
	for i, p := range parties {
		label := fmt.Sprintf("party %d", i+1)
		switch i {
		case 0:
			label = "calling party"
		case 1:
			label = "called party"
		}
		verdict := "not recorded"
		if bd.Parties[i].Record {
			verdict = "RECORDED as extension " + bd.Parties[i].Extension + "'s recording"
		}
		fmt.Fprintf(w, "%s: %s; %s\n", label, r.DescribeClass(p), verdict)
	}
}

func rulesShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "recpolicy rules show: usage: recpolicy rules show FILE")
		return 2
	}
	r, err := loadRules(args[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	r.WriteShow(stdout)
	return 0
}
