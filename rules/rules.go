package rules

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Rules is a validated, compiled rules file. It is immutable: every
// accessor returns copies, and a *Rules is safe for concurrent use. A new
// rules file gives a new *Rules; the daemon swaps them atomically.
type Rules struct {
	source string
	digest string
	text   string // the file as read, kept as evidence of each version

	timezone string
	loc      *time.Location
	name     nameTemplate
	greeting Greeting

	departments []Department
	deptByID    map[string]int

	extensions  []Extension // sorted by number
	extByNumber map[string]int
	extByEnd    map[string]int

	never         []NeverRecord
	neverByEnd    map[string]int
	neverByDigits map[string]int

	trunks   []string
	trunkSet map[string]bool
	numbers  []numberPattern

	sites     []SiteLink
	siteByEnd map[string]int

	retention map[string]int // days
	schedules Schedules

	// instructions are the file's exceptional instructions; active those
	// in force at the instant At was given (none for the rules as loaded).
	instructions []Instruction
	active       []Instruction
}

// SiteLink is a trunk to another of the city's own PBX sites (a police
// station on its own PBX): a party arriving on it is trusted for what it
// presents only when that is a city number (an Annexe A or never_record
// number, or one of the site's own numbers); any other number makes it
// external, as on a carrier trunk.
type SiteLink struct {
	Trunk   string   // the trunk's PJSIP endpoint
	Name    string   // the site it reaches
	Numbers []string // patterns of the site's own phones outside Annexe A
	numbers []numberPattern
}

// Department is one department (a "Direction" of Annexe A).
type Department struct {
	ID           string // short identifier used by extensions, e.g. "greffe"
	Name         string // as written in Annexe A, e.g. "Greffe"
	Director     string // who directs it, free text
	DirectorUser string // the director's user name, "" when not given
}

// Extension is one row of Annexe A: a phone whose external calls are
// recorded.
type Extension struct {
	Number       string   // extension number, e.g. "235"
	Departments  []string // department ids, one or more
	Description  string   // as written in Annexe A
	Confidential bool     // staff bound by professional confidentiality: hidden from directors
	Endpoint     string   // PJSIP endpoint name; the number unless the file says otherwise
}

// NeverRecord is a phone that must never be recorded, whatever the call.
type NeverRecord struct {
	Number   string // matched against both parties' numbers; "" when not given
	Endpoint string // matched against both parties' endpoints; defaults to the number
	Reason   string
}

// Greeting is the recording notice every caller hears.
type Greeting struct {
	Sound    string // Asterisk sound name, e.g. "recpolicy/avis-enregistrement"
	File     string // absolute path of the WAV file
	Language string // e.g. "fr"
}

// Schedules holds the cron expressions (standard five fields, or a
// descriptor such as @daily) of the periodic jobs. They are meant to run
// in the rules' time zone (cron.WithLocation(r.Location())).
type Schedules struct {
	Retention string // purge of recordings past their retention
	Integrity string // verification of the recordings' hashes
	Report    string // the previous month's compliance report ("" when not written by the daemon)
}

// Period returns the longest gap between two runs of a schedule of s
// (spec one of its fields), looked at over the next 400 runs from now in
// the rules' time zone: a job that last ran longer ago than that (with a
// margin) did not run as scheduled, or the clock moved. 0 for a spec that
// does not parse.
func (r *Rules) Period(spec string) time.Duration {
	sched, err := parseCron(spec)
	if err != nil {
		return 0
	}
	t := sched.Next(time.Now().In(r.loc))
	var longest time.Duration
	for range 400 {
		n := sched.Next(t)
		if n.IsZero() {
			break
		}
		longest = max(longest, n.Sub(t))
		t = n
	}
	return longest
}

// NextRun returns the first run of a schedule of s (spec one of its
// fields) after t, in the rules' time zone; the zero time for a spec that
// does not parse or never runs.
func (r *Rules) NextRun(spec string, t time.Time) time.Time {
	sched, err := parseCron(spec)
	if err != nil {
		return time.Time{}
	}
	return sched.Next(t.In(r.loc))
}

// numberPattern is one external number regex, anchored to the whole number.
type numberPattern struct {
	src string
	re  *regexp.Regexp
}

// Source returns the path the rules were loaded from (the file name given
// to Parse).
func (r *Rules) Source() string { return r.source }

// Digest returns the hex SHA-256 of the rules file's bytes, for logs.
func (r *Rules) Digest() string { return r.digest }

// Text returns the rules file as it was read (the bytes Digest sums), so
// that each version in force can be kept with the recordings it decided.
func (r *Rules) Text() string { return r.text }

// Location returns the time zone of file names and schedules.
func (r *Rules) Location() *time.Location { return r.loc }

// Timezone returns the IANA name of Location, as written in the file.
func (r *Rules) Timezone() string { return r.timezone }

// FilenameTemplate returns the file name template as written.
func (r *Rules) FilenameTemplate() string { return r.name.text }

// FileName returns a recording's base name (without ".wav", which the
// caller adds) for a call at t on an extension, with t converted to the
// rules' time zone. Characters of extension other than letters, digits,
// "-" and "_" become "_". Two calls of one extension in the same minute
// get the same name: the caller must make the final name unique.
func (r *Rules) FileName(t time.Time, extension string) string {
	return r.name.render(t.In(r.loc), extension)
}

// Greeting returns the recording notice.
func (r *Rules) Greeting() Greeting { return r.greeting }

// Departments returns the departments in the order of the file.
func (r *Rules) Departments() []Department { return slices.Clone(r.departments) }

// Department returns the department with an id.
func (r *Rules) Department(id string) (Department, bool) {
	i, ok := r.deptByID[id]
	if !ok {
		return Department{}, false
	}
	return r.departments[i], true
}

// Extension returns the Annexe A extension with a number.
func (r *Rules) Extension(number string) (Extension, bool) {
	i, ok := r.extByNumber[strings.TrimSpace(number)]
	if !ok {
		return Extension{}, false
	}
	return r.extensions[i].clone(), true
}

// Extensions returns every Annexe A extension, sorted by number.
func (r *Rules) Extensions() []Extension {
	out := make([]Extension, len(r.extensions))
	for i, e := range r.extensions {
		out[i] = e.clone()
	}
	return out
}

// NeverRecord returns the phones never recorded, in the order of the file.
func (r *Rules) NeverRecord() []NeverRecord { return slices.Clone(r.never) }

// Trunks returns the PJSIP endpoint names of the carrier trunks.
func (r *Rules) Trunks() []string { return slices.Clone(r.trunks) }

// SiteLinks returns the trunks to the city's other PBX sites.
func (r *Rules) SiteLinks() []SiteLink { return slices.Clone(r.sites) }

// ExternalNumbers returns the external number patterns as written; each
// must match a whole number.
func (r *Rules) ExternalNumbers() []string {
	out := make([]string, len(r.numbers))
	for i, p := range r.numbers {
		out[i] = p.src
	}
	return out
}

// Retention returns the retention classes and their durations (days × 24 h).
func (r *Rules) Retention() map[string]time.Duration {
	out := make(map[string]time.Duration, len(r.retention))
	for name, days := range r.retention {
		out[name] = time.Duration(days) * 24 * time.Hour
	}
	return out
}

// RetentionDays returns the retention of a class in days.
func (r *Rules) RetentionDays(class string) (int, bool) {
	days, ok := r.retention[class]
	return days, ok
}

// RetentionClasses returns the retention class names, sorted.
func (r *Rules) RetentionClasses() []string {
	return slices.Sorted(maps.Keys(r.retention))
}

// Schedules returns the cron expressions of the periodic jobs.
func (r *Rules) Schedules() Schedules { return r.schedules }

// DirectorExtensions returns the extension numbers whose recordings the
// director with a user name may access: the extensions of the departments
// that user directs, except those of staff bound by professional
// confidentiality. It returns nothing for an empty or unknown user.
func (r *Rules) DirectorExtensions(user string) []string {
	if user == "" {
		return nil
	}
	directs := map[string]bool{}
	for _, d := range r.departments {
		if d.DirectorUser == user {
			directs[d.ID] = true
		}
	}
	var out []string
	for _, e := range r.extensions {
		if e.Confidential {
			continue
		}
		for _, id := range e.Departments {
			if directs[id] {
				out = append(out, e.Number)
				break
			}
		}
	}
	return out
}

// clone copies an extension so that callers cannot change the rules.
func (e Extension) clone() Extension {
	e.Departments = slices.Clone(e.Departments)
	return e
}

// label describes an extension for reasons: "Greffe – Directeur".
func (r *Rules) label(e Extension) string {
	names := make([]string, 0, len(e.Departments))
	for _, id := range e.Departments {
		if d, ok := r.Department(id); ok {
			names = append(names, d.Name)
		}
	}
	return strings.Join(names, " / ") + " – " + e.Description
}

// compareNumbers orders extension numbers: digit strings by value,
// anything else as text.
func compareNumbers(a, b string) int {
	if allDigits(a) && allDigits(b) {
		ta, tb := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(ta) != len(tb) {
			return len(ta) - len(tb)
		}
		if c := strings.Compare(ta, tb); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

// allDigits reports whether s is a non-empty string of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// digitsOf keeps the digits of a number: "+1 514-555-0100" → "15145550100".
func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
