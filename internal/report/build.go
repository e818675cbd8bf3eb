// Package report builds the monthly compliance report: coverage recomputed
// from the call records with the rules version in force at each call
// (independently of what the daemon decided, so that a recording it never
// started shows up as missing), the never-recorded phones, the greetings,
// holds, destructions, written requests, accesses and the rules versions of
// the month; and renders it as HTML (with SVG charts made here), CSV, or
// PDF printed by headless Chromium. Labels are in French.
package report

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	store "github.com/villedemercier/recpolicy/archive/report"
	"github.com/villedemercier/recpolicy/rules"
)

// Options say which month, for which department, with which rules.
type Options struct {
	Month      string // YYYY-MM, in Loc
	Department string // a department id; "" for the whole city
	// Rules are the rules in force now: departments' names, and the
	// decisions for calls older than any recorded rules version.
	Rules *rules.Rules
	// RulesDir is where a past version's relative paths (its greeting) are
	// resolved; the current rules file's folder.
	RulesDir  string
	Loc       *time.Location
	Generated time.Time
	// PBXLegs are the call records the PBX wrote itself (ReadPBXCSV), when
	// it does: those the archive lacks are added (the daemon was down, or
	// its connection was), so that their calls count.
	PBXLegs []store.Leg
	// PBXSource names where PBXLegs come from, for the report.
	PBXSource string
}

// MonthWindow returns the first instant of month (YYYY-MM) in loc and the
// first of the next.
func MonthWindow(month string, loc *time.Location) (time.Time, time.Time, error) {
	t, err := time.ParseInLocation("2006-01", month, loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("month %q: give it as YYYY-MM, e.g. 2026-11", month)
	}
	return t, t.AddDate(0, 1, 0), nil
}

// ExtRow is one extension's month (or a department's, or the city's, total).
type ExtRow struct {
	Extension    string  `json:"extension"`
	Description  string  `json:"description"`
	Confidential bool    `json:"confidential,omitempty"`
	External     int     `json:"external_calls"`
	Recorded     int     `json:"recorded"`
	Coverage     float64 `json:"coverage"` // Recorded / External; 1 without external calls
	Incomplete   int     `json:"incomplete"`
	Late         int     `json:"started_late"` // recordings that began more than 2 s after the extension answered
	BridgedSecs  float64 `json:"bridged_seconds"`
	RecordedSecs float64 `json:"recorded_seconds"`
}

func (e *ExtRow) add(o ExtRow) {
	e.External += o.External
	e.Recorded += o.Recorded
	e.Incomplete += o.Incomplete
	e.Late += o.Late
	e.BridgedSecs += o.BridgedSecs
	e.RecordedSecs += o.RecordedSecs
}

func (e *ExtRow) finish() {
	e.Coverage = 1
	if e.External > 0 {
		e.Coverage = float64(e.Recorded) / float64(e.External)
	}
}

// DeptRow is one department's extensions and their total.
type DeptRow struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Extensions []ExtRow `json:"extensions"`
	Total      ExtRow   `json:"total"`
}

// Missing is an external call of an Annexe A extension with no recording.
type Missing struct {
	LinkedID  string    `json:"linkedid"`
	Start     time.Time `json:"start"`
	Extension string    `json:"extension"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Bridged   int       `json:"bridged_seconds"`
	RulesSHA  string    `json:"rules_sha256"`
	Rule      string    `json:"rule"`
}

// NeverRow is a never-recorded phone's month: both counts of recordings
// must be 0.
type NeverRow struct {
	Number     string `json:"number"`
	Reason     string `json:"reason"`
	Calls      int    `json:"calls"`
	Recordings int    `json:"recordings"`
	Bytes      int64  `json:"bytes"`
}

// Day is one day's external calls and recordings of a department.
type Day struct {
	Day        string `json:"day"`
	Department string `json:"department"`
	External   int    `json:"external_calls"`
	Recorded   int    `json:"recorded"`
}

// RulesWindow is a rules version and when it was in force in the month.
type RulesWindow struct {
	SHA256  string    `json:"sha256"`
	Trigger string    `json:"trigger"`
	Source  string    `json:"source"`
	From    time.Time `json:"from"`
	Until   time.Time `json:"until"`
	Parsed  bool      `json:"parsed"` // false: the report judged its calls by today's rules
}

// InstructionRow is an exceptional instruction in force during the month
// and what it changed.
type InstructionRow struct {
	rules.Instruction
	// Suspended counts the external calls it kept from being recorded;
	// Recorded those it had recorded; Retained the recordings of the month
	// it put under its retention class.
	Suspended, Recorded, Retained int
}

// RequestsSummary counts the register's month.
type RequestsSummary struct {
	Registered, Decided, Fulfilled, Closed int
	// Days from registration to decision, and from decision to the first
	// package, over the requests decided (fulfilled) in the month.
	AvgDecisionDays, MaxDecisionDays float64
	AvgFulfilDays, MaxFulfilDays     float64
	Rows                             []store.Request
}

// Report is the month's compliance report.
type Report struct {
	Month        string               `json:"month"`
	Department   string               `json:"department,omitempty"`
	From         time.Time            `json:"from"`
	To           time.Time            `json:"to"`
	Generated    time.Time            `json:"generated"`
	Departments  []DeptRow            `json:"departments"`
	Total        ExtRow               `json:"total"`
	Missing      []Missing            `json:"missing"`
	NeverRecord  []NeverRow           `json:"never_record"`
	Greetings    map[string]int       `json:"greetings"`
	Holds        []store.HoldEvent    `json:"holds"`
	Destructions []store.Count        `json:"destructions"`
	Requests     RequestsSummary      `json:"requests"`
	Accesses     []store.Count        `json:"accesses"`
	Rules        []RulesWindow        `json:"rules_versions"`
	Daily        []Day                `json:"daily"`
	Instructions []InstructionRow     `json:"instructions"`
	Integrity    []store.IntegrityRun `json:"integrity_runs"`
	// Chain is the access log's hash chain as verified when the report was
	// made (set by the caller).
	// PBXSource, PBXRecords and PBXOnly: the PBX's own call records read,
	// and how many of them the archive lacked.
	PBXSource   string   `json:"pbx_source,omitempty"`
	PBXRecords  int      `json:"pbx_records"`
	PBXOnly     int      `json:"pbx_only"`
	ChainRows   int64    `json:"access_log_rows"`
	ChainBreaks []string `json:"access_log_breaks"`
}

// callKey is one Annexe A extension's part in one call.
type callKey struct{ linkedid, ext string }

type expected struct {
	start    time.Time
	answer   *time.Time
	from, to string
	bridged  int
	sha      string
	rule     string
	inbound  bool
	external bool
}

// Build recomputes the month from its facts.
func Build(m *store.Month, o Options) (*Report, error) {
	if o.Rules == nil {
		return nil, errors.New("build report: no rules")
	}
	if o.Loc == nil {
		o.Loc = o.Rules.Location()
	}
	if o.Department != "" {
		if _, ok := o.Rules.Department(o.Department); !ok {
			return nil, fmt.Errorf("build report: no department %q in the rules (recpolicy rules show lists them)", o.Department)
		}
	}
	rep := &Report{Month: o.Month, Department: o.Department, From: m.From, To: m.To, Generated: o.Generated, Integrity: m.Integrity,
		Greetings: map[string]int{}, Holds: m.Holds, Destructions: m.Destructions, Accesses: m.Accesses,
		Missing: []Missing{}, Daily: []Day{}}

	// The rules version in force at each instant: parsed once each.
	type version struct {
		from  time.Time
		sha   string
		rules *rules.Rules
	}
	var versions []version
	for i, v := range m.RulesVersions {
		parsed, err := rules.Parse(v.Source, []byte(v.Content), o.RulesDir)
		w := RulesWindow{SHA256: v.SHA256, Trigger: v.Trigger, Source: v.Source, From: v.LoadedAt, Until: m.To, Parsed: err == nil}
		if w.From.Before(m.From) {
			w.From = m.From
		}
		if i+1 < len(m.RulesVersions) {
			w.Until = m.RulesVersions[i+1].LoadedAt
		}
		rep.Rules = append(rep.Rules, w)
		if err != nil {
			parsed = o.Rules
		}
		versions = append(versions, version{from: v.LoadedAt, sha: v.SHA256, rules: parsed})
	}
	inForce := func(t time.Time) (*rules.Rules, string) {
		r, sha := o.Rules, o.Rules.Digest()
		for _, v := range versions {
			if !v.from.After(t) {
				r, sha = v.rules, v.sha
			}
		}
		return r, sha
	}

	// The call records: the archive's, and the PBX's own it lacks.
	legs := m.Legs
	if o.PBXSource != "" {
		rep.PBXSource, rep.PBXRecords = o.PBXSource, len(o.PBXLegs)
		have := map[string]bool{}
		for _, l := range m.Legs {
			have[fmt.Sprintf("%s/%d", l.UniqueID, l.Sequence)] = true
		}
		for _, l := range o.PBXLegs {
			if !have[fmt.Sprintf("%s/%d", l.UniqueID, l.Sequence)] {
				legs = append(legs, l)
				rep.PBXOnly++
			}
		}
		sort.SliceStable(legs, func(i, j int) bool { return legs[i].Start.Before(legs[j].Start) })
	}

	// Expected recordings, from the call records alone.
	changed := map[callKey]bool{}
	suspendedBy, recordedBy := map[string]int{}, map[string]int{}
	exp := map[callKey]*expected{}
	var order []callKey
	// A leg that reached no other channel (a caller who hung up during the
	// greeting) was no conversation: nothing to record. An inbound call
	// whose every leg is such ended in the greeting.
	reached := map[string]bool{}
	for _, l := range legs {
		if l.DestChannel != "" {
			reached[l.LinkedID] = true
		}
	}
	endedInGreeting := map[string]bool{}
	trunks := o.Rules.Trunks()
	for _, l := range legs {
		if l.DestChannel == "" && l.Disposition == "ANSWERED" && !reached[l.LinkedID] && slices.Contains(trunks, rules.EndpointOf(l.Channel)) {
			endedInGreeting[l.LinkedID] = true
		}
	}
	rep.Greetings["cut_short"] += len(endedInGreeting)
	for _, l := range legs {
		if l.Disposition != "ANSWERED" || l.Billable <= 0 || l.DestChannel == "" {
			continue
		}
		r, sha := inForce(l.Start)
		a := rules.Party{Endpoint: rules.EndpointOf(l.Channel), Number: l.Source}
		b := rules.Party{Endpoint: rules.EndpointOf(l.DestChannel), Number: l.Destination}
		d := r.At(l.Start).Decide(a, b)
		if d.Instruction != "" {
			k := callKey{l.LinkedID, d.Instruction + "/" + d.Extension}
			if !changed[k] {
				changed[k] = true
				if d.Record {
					recordedBy[d.Instruction]++
				} else {
					suspendedBy[d.Instruction]++
				}
			}
		}
		if !d.Record {
			continue
		}
		k := callKey{l.LinkedID, d.Extension}
		e, ok := exp[k]
		if !ok {
			e = &expected{start: l.Start, answer: l.Answer, from: l.Source, to: l.Destination, sha: sha, rule: d.Rule, inbound: b.Endpoint == d.Extension || b.Number == d.Extension}
			exp[k] = e
			order = append(order, k)
		}
		e.bridged += l.Billable
	}
	recs := map[callKey][]store.Recording{}
	greetingOf := map[string]string{}
	for _, x := range m.Recordings {
		k := callKey{x.LinkedID, x.Extension}
		recs[k] = append(recs[k], x)
		if x.Greeting != "" && greetingOf[x.LinkedID] == "" {
			greetingOf[x.LinkedID] = x.Greeting
		}
	}
	rows := map[string]*ExtRow{}
	row := func(ext string) *ExtRow {
		if r, ok := rows[ext]; ok {
			return r
		}
		x := &ExtRow{Extension: ext}
		if e, ok := o.Rules.Extension(ext); ok {
			x.Description, x.Confidential = e.Description, e.Confidential
		}
		rows[ext] = x
		return x
	}
	daily := map[[2]string]*Day{}
	deptsOf := func(ext string) []string {
		if e, ok := o.Rules.Extension(ext); ok {
			return e.Departments
		}
		return []string{"?"}
	}
	greeted := map[string]bool{}
	for _, k := range order {
		e := exp[k]
		if o.Department != "" && !slices.Contains(deptsOf(k.ext), o.Department) {
			continue
		}
		x := row(k.ext)
		x.External++
		x.BridgedSecs += float64(e.bridged)
		got := recs[k]
		var secs float64
		var first time.Time
		for _, g := range got {
			secs += g.Duration
			if first.IsZero() || g.Start.Before(first) {
				first = g.Start
			}
		}
		if len(got) > 0 && e.answer != nil && first.After(e.answer.Add(2*time.Second)) {
			x.Late++
		}
		if len(got) > 0 {
			x.Recorded++
			x.RecordedSecs += secs
			if secs < 0.9*float64(e.bridged)-1 {
				x.Incomplete++
			}
		} else {
			rep.Missing = append(rep.Missing, Missing{LinkedID: k.linkedid, Start: e.start, Extension: k.ext, From: e.from, To: e.to,
				Bridged: e.bridged, RulesSHA: e.sha, Rule: e.rule})
		}
		day := e.start.In(o.Loc).Format(time.DateOnly)
		for _, dep := range deptsOf(k.ext) {
			if o.Department != "" && dep != o.Department {
				continue
			}
			d, ok := daily[[2]string{day, dep}]
			if !ok {
				d = &Day{Day: day, Department: dep}
				daily[[2]string{day, dep}] = d
			}
			d.External++
			if len(got) > 0 {
				d.Recorded++
			}
		}
		if e.inbound && !greeted[k.linkedid] {
			greeted[k.linkedid] = true
			g := greetingOf[k.linkedid]
			if g == "" {
				g = "unknown"
				if len(got) == 0 {
					g = "missed"
				}
			}
			rep.Greetings[g]++
		}
	}
	for _, d := range daily {
		rep.Daily = append(rep.Daily, *d)
	}
	sort.Slice(rep.Daily, func(i, j int) bool {
		if rep.Daily[i].Day != rep.Daily[j].Day {
			return rep.Daily[i].Day < rep.Daily[j].Day
		}
		return rep.Daily[i].Department < rep.Daily[j].Department
	})

	// Departments, in the rules' order, every Annexe A extension listed.
	for _, dep := range o.Rules.Departments() {
		if o.Department != "" && dep.ID != o.Department {
			continue
		}
		dr := DeptRow{ID: dep.ID, Name: dep.Name, Total: ExtRow{Extension: dep.ID, Description: dep.Name}}
		for _, e := range o.Rules.Extensions() {
			if !slices.Contains(e.Departments, dep.ID) {
				continue
			}
			x := *row(e.Number)
			x.finish()
			dr.Extensions = append(dr.Extensions, x)
			dr.Total.add(x)
		}
		dr.Total.finish()
		rep.Departments = append(rep.Departments, dr)
	}
	rep.Total = ExtRow{Extension: "Ville", Description: "Toute la Ville"}
	for ext, x := range rows {
		if o.Department == "" || slices.Contains(deptsOf(ext), o.Department) {
			rep.Total.add(*x)
		}
	}
	rep.Total.finish()

	// The exceptional instructions of the month's rules versions.
	seenInstr := map[string]bool{}
	sets := []*rules.Rules{o.Rules}
	if len(versions) > 0 {
		sets = nil
		for _, v := range versions {
			sets = append(sets, v.rules)
		}
	}
	for _, set := range sets {
		for _, in := range set.Instructions() {
			if seenInstr[in.ID] || !in.Until.After(m.From) || !in.From.Before(m.To) {
				continue
			}
			seenInstr[in.ID] = true
			row := InstructionRow{Instruction: in, Suspended: suspendedBy[in.ID], Recorded: recordedBy[in.ID]}
			if in.Effect == rules.EffectRetain {
				for _, x := range m.Recordings {
					if x.Class == in.Class && slices.Contains(in.Extensions, x.Extension) && in.InForce(x.Start) {
						row.Retained++
					}
				}
			}
			rep.Instructions = append(rep.Instructions, row)
		}
	}

	// Never-recorded phones: their calls, and what was recorded of them
	// (must be nothing).
	for _, nr := range o.Rules.NeverRecord() {
		n := NeverRow{Number: nr.Number, Reason: nr.Reason}
		calls := map[string]bool{}
		for _, l := range legs {
			if rules.EndpointOf(l.Channel) == nr.Endpoint || rules.EndpointOf(l.DestChannel) == nr.Endpoint ||
				(nr.Number != "" && (l.Source == nr.Number || l.Destination == nr.Number)) {
				calls[l.LinkedID] = true
			}
		}
		n.Calls = len(calls)
		for _, x := range m.Recordings {
			if (x.Extension == nr.Number || calls[x.LinkedID] && x.Extension == nr.Endpoint) && !x.Start.Before(m.From) && x.Start.Before(m.To) {
				n.Recordings++
				n.Bytes += x.Size
			}
		}
		rep.NeverRecord = append(rep.NeverRecord, n)
	}

	// The register.
	rs := RequestsSummary{Rows: m.Requests}
	var dec, ful []float64
	in := func(t *time.Time) bool { return t != nil && !t.Before(m.From) && t.Before(m.To) }
	for _, q := range m.Requests {
		if !q.RegisteredAt.Before(m.From) && q.RegisteredAt.Before(m.To) {
			rs.Registered++
		}
		if in(q.DecidedAt) {
			rs.Decided++
			dec = append(dec, q.DecidedAt.Sub(q.RegisteredAt).Hours()/24)
		}
		if in(q.FirstSent) {
			rs.Fulfilled++
			if q.DecidedAt != nil {
				ful = append(ful, q.FirstSent.Sub(*q.DecidedAt).Hours()/24)
			}
		}
		if in(q.ClosedAt) {
			rs.Closed++
		}
	}
	rs.AvgDecisionDays, rs.MaxDecisionDays = avgMax(dec)
	rs.AvgFulfilDays, rs.MaxFulfilDays = avgMax(ful)
	rep.Requests = rs
	return rep, nil
}

func avgMax(v []float64) (float64, float64) {
	if len(v) == 0 {
		return 0, 0
	}
	var sum, mx float64
	for _, x := range v {
		sum += x
		mx = max(mx, x)
	}
	return sum / float64(len(v)), mx
}

// FileName is the report's file name: rapport-conformite-2026-11[-police].EXT.
func FileName(month, department, ext string) string {
	name := "rapport-conformite-" + month
	if department != "" {
		name += "-" + department
	}
	return filepath.Base(name + "." + strings.TrimPrefix(ext, "."))
}
