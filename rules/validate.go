package rules

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// Limits of the values of a rules file.
const (
	minRetentionDays = 365       // the policy keeps files and logs at least one year
	maxRetentionDays = 100 * 366 // beyond a century, a typo
	maxPatternLen    = 1000      // bytes of one external number regex
	maxNumberLen     = 32        // digits of a phone number
	maxNameLen       = 80        // endpoint, department id, user name
)

// validator checks a decoded file and compiles it into Rules.
type validator struct {
	errs     *errorList
	baseDir  string
	extLines map[string]int // line of each extension number
	r        *Rules
}

// compile validates raw and builds the rules; any problem is recorded in
// errs and makes the result unusable.
func compile(raw *rawFile, baseDir string, errs *errorList) *Rules {
	v := &validator{errs: errs, baseDir: baseDir, extLines: map[string]int{}, r: &Rules{
		deptByID:      map[string]int{},
		extByNumber:   map[string]int{},
		extByEnd:      map[string]int{},
		neverByEnd:    map[string]int{},
		neverByDigits: map[string]int{},
		trunkSet:      map[string]bool{},
		siteByEnd:     map[string]int{},
		retention:     map[string]int{},
	}}
	v.timezone(raw.Timezone)
	v.filename(raw.Filename)
	v.greeting(raw.Greeting)
	v.departments(raw.Departments)
	trunks := v.trunks(raw.External)
	v.extensions(raw.Extensions, raw.Departments.Complete, trunks)
	v.neverRecord(raw.NeverRecord, trunks)
	v.numbers(raw.External)
	v.siteLinks(raw.SiteLinks, trunks)
	v.retention(raw.Retention)
	v.r.schedules.Retention = v.schedule(raw.Schedules.Retention, "retention")
	v.r.schedules.Integrity = v.schedule(raw.Schedules.Integrity, "integrity")
	if raw.Schedules.Report.N != nil {
		v.r.schedules.Report = v.schedule(raw.Schedules.Report, "report")
	}
	v.instructions(raw.Instructions)
	return v.r
}

// firstAt locates the first occurrence of a repeated value: "at line 8",
// or "at column 12" when both are on one line.
func firstAt(first, again *yaml.Node) string {
	if again != nil && first.Line == again.Line {
		return fmt.Sprintf("at column %d", first.Column)
	}
	return fmt.Sprintf("at line %d", first.Line)
}

// isEmptyList reports whether a node is present but an empty list or
// nothing at all.
func isEmptyList(n *yaml.Node) bool {
	if n == nil {
		return false
	}
	return n.Kind == yaml.SequenceNode && len(n.Content) == 0 ||
		n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// nonEmpty reports a value that is present but blank.
func (v *validator) nonEmpty(s scalar, label, example string) bool {
	if !s.ok() {
		return false
	}
	if strings.TrimSpace(s.V) == "" {
		v.errs.at(s.N, "%s is empty; give a value, e.g. %s", label, example)
		return false
	}
	return true
}

func (v *validator) timezone(s scalar) {
	if !v.nonEmpty(s, "timezone", "America/Toronto") {
		return
	}
	if s.V == "Local" {
		v.errs.at(s.N, "timezone %s depends on the machine; name an IANA time zone such as America/Toronto", quote(s.V))
		return
	}
	loc, err := time.LoadLocation(s.V)
	if err != nil {
		v.errs.at(s.N, "timezone %s is not a known IANA time zone; use e.g. America/Toronto", quote(s.V))
		return
	}
	v.r.timezone, v.r.loc = s.V, loc
}

func (v *validator) filename(s scalar) {
	if !s.ok() {
		return
	}
	t, problems := parseTemplate(s.V)
	for _, p := range problems {
		v.errs.at(s.N, "%s", p)
	}
	v.r.name = t
}

func (v *validator) greeting(g rawGreeting) {
	if v.nonEmpty(g.Sound, "greeting.sound", "recpolicy/avis-enregistrement") {
		if !isSound(g.Sound.V) {
			v.errs.at(g.Sound.N, "greeting.sound %s: give the Asterisk sound name, without extension or leading \"/\", e.g. recpolicy/avis-enregistrement", quote(g.Sound.V))
		}
		v.r.greeting.Sound = g.Sound.V
	}
	if v.nonEmpty(g.Language, "greeting.language", "fr") {
		if !isLanguage(g.Language.V) {
			v.errs.at(g.Language.N, "greeting.language %s: use an Asterisk language code such as fr or fr_CA", quote(g.Language.V))
		}
		v.r.greeting.Language = g.Language.V
	}
	if v.nonEmpty(g.File, "greeting.file", "sounds/avis-enregistrement.wav") {
		v.greetingFile(g.File)
	}
}

// greetingFile checks that the greeting WAV exists, relative to the rules
// file's directory.
func (v *validator) greetingFile(s scalar) {
	if !strings.HasSuffix(strings.ToLower(s.V), ".wav") {
		v.errs.at(s.N, "greeting.file %s: the greeting must be a .wav file", quote(s.V))
		return
	}
	path := s.V
	if !filepath.IsAbs(path) {
		path = filepath.Join(v.baseDir, path)
	}
	info, err := os.Stat(path)
	switch {
	case os.IsNotExist(err):
		v.errs.at(s.N, "greeting file %s not found at %s; create it or fix the path (relative to the rules file's directory)", quote(s.V), path)
		return
	case err != nil:
		v.errs.at(s.N, "greeting file %s cannot be read: %v", quote(s.V), err)
		return
	case !info.Mode().IsRegular():
		v.errs.at(s.N, "greeting file %s (%s) is not a regular file; give the path of the WAV", quote(s.V), path)
		return
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	v.r.greeting.File = path
}

func (v *validator) departments(ds rawDepartments) {
	if isEmptyList(ds.N) {
		v.errs.at(ds.N, "departments is empty; list the departments (Direction column) of Annexe A")
	}
	ids := map[string]*yaml.Node{}
	names := map[string]*yaml.Node{}
	for _, d := range ds.Items {
		dep := Department{}
		ok := true
		if v.nonEmpty(d.ID, "department.id", "greffe") {
			switch prev := ids[d.ID.V]; {
			case len(d.ID.V) > maxNameLen || !isSlug(d.ID.V):
				v.errs.at(d.ID.N, "department id %s: use lower-case letters, digits, \"-\" or \"_\", starting with a letter, e.g. communications-ti", quote(d.ID.V))
				ok = false
			case prev != nil:
				v.errs.at(d.ID.N, "department id %s is used twice (first %s); give each department its own id", quote(d.ID.V), firstAt(prev, d.ID.N))
				ok = false
			default:
				ids[d.ID.V] = d.ID.N
			}
			dep.ID = d.ID.V
		} else {
			ok = false
		}
		if v.nonEmpty(d.Name, "department.name", "Greffe") {
			if prev := names[d.Name.V]; prev != nil {
				v.errs.at(d.Name.N, "department name %s is used twice (first %s); merge the two departments", quote(d.Name.V), firstAt(prev, d.Name.N))
			} else {
				names[d.Name.V] = d.Name.N
			}
			dep.Name = d.Name.V
		}
		if v.nonEmpty(d.Director, "department.director", `"Me Denis Ferland, greffier"`) {
			dep.Director = d.Director.V
		}
		if d.DirectorUser.ok() {
			if len(d.DirectorUser.V) > maxNameLen || !isUser(d.DirectorUser.V) {
				v.errs.at(d.DirectorUser.N, "department.director_user %s: give the director's user name (letters, digits, \".\", \"_\", \"-\", \"@\"), or remove the key", quote(d.DirectorUser.V))
			}
			dep.DirectorUser = d.DirectorUser.V
		}
		if ok {
			v.r.deptByID[dep.ID] = len(v.r.departments)
			v.r.departments = append(v.r.departments, dep)
		}
	}
}

// trunks validates the trunk names and returns them with their nodes.
func (v *validator) trunks(x rawExternal) map[string]*yaml.Node {
	seen := map[string]*yaml.Node{}
	if isEmptyList(x.TrunksN) {
		v.errs.at(x.TrunksN, "external.trunks is empty; name the carrier trunk endpoints, e.g. trunks: [carrier] (without a trunk no call is external and nothing is recorded)")
	}
	for _, t := range x.Trunks {
		if !v.nonEmpty(t, "external.trunks", "carrier") {
			continue
		}
		switch prev := seen[t.V]; {
		case len(t.V) > maxNameLen || !isEndpoint(t.V):
			v.errs.at(t.N, "trunk %s: give the PJSIP endpoint name of the trunk (letters, digits, \".\", \"_\", \"+\", \"-\"), e.g. carrier", quote(t.V))
		case prev != nil:
			v.errs.at(t.N, "trunk %s is listed twice (first %s); remove one", quote(t.V), firstAt(prev, t.N))
		default:
			seen[t.V] = t.N
			v.r.trunks = append(v.r.trunks, t.V)
			v.r.trunkSet[t.V] = true
		}
	}
	return seen
}

func (v *validator) extensions(es rawExtensions, deptsComplete bool, trunks map[string]*yaml.Node) {
	if isEmptyList(es.N) {
		v.errs.at(es.N, "extensions is empty; list the extensions of Annexe A (a rules file without extensions would record nothing)")
	}
	numbers := map[string]*yaml.Node{}
	endpoints := map[string]*yaml.Node{}
	known := slices.Sorted(maps.Keys(v.r.deptByID))
	for _, e := range es.Items {
		ext := Extension{}
		ok := true
		if v.nonEmpty(e.Number, "extension.number", "235") {
			switch prev := numbers[e.Number.V]; {
			case len(e.Number.V) > maxNumberLen || !allDigits(e.Number.V):
				v.errs.at(e.Number.N, "extension number %s: use digits only, e.g. 235", quote(e.Number.V))
				ok = false
			case prev != nil:
				v.errs.at(e.Number.N, "extension %s is listed twice (first %s); remove one", quote(e.Number.V), firstAt(prev, e.Number.N))
				ok = false
			default:
				numbers[e.Number.V] = e.Number.N
				v.extLines[e.Number.V] = e.Number.N.Line
			}
			ext.Number = e.Number.V
		} else {
			ok = false
		}
		who := "extension"
		if ext.Number != "" {
			who = "extension " + quote(ext.Number)
		}
		if isEmptyList(e.DeptsN) {
			v.errs.at(e.DeptsN, "%s has no department; give at least one department id, e.g. departments: [greffe]", who)
		}
		seenDept := map[string]bool{}
		for _, id := range e.Departments {
			_, exists := v.r.deptByID[id.V]
			switch {
			case seenDept[id.V]:
				v.errs.at(id.N, "%s: department %s is listed twice; remove one", who, quote(id.V))
			case !exists && deptsComplete:
				if s := suggest(id.V, known); s != "" {
					v.errs.at(id.N, "%s: unknown department %s; did you mean %q?", who, quote(id.V), s)
				} else {
					v.errs.at(id.N, "%s: unknown department %s; use one of the ids under departments (%s)", who, quote(id.V), strings.Join(known, ", "))
				}
			case exists:
				ext.Departments = append(ext.Departments, id.V)
			}
			seenDept[id.V] = true
		}
		if v.nonEmpty(e.Description, who+" description", `"Directeur"`) {
			ext.Description = e.Description.V
		}
		ext.Confidential = e.Confidential.V
		ext.Endpoint = ext.Number
		endpointNode := e.Number.N
		if e.Endpoint.ok() {
			ext.Endpoint, endpointNode = e.Endpoint.V, e.Endpoint.N
			if !isEndpoint(e.Endpoint.V) || len(e.Endpoint.V) > maxNameLen {
				v.errs.at(e.Endpoint.N, "%s: endpoint %s: give the PJSIP endpoint name (letters, digits, \".\", \"_\", \"+\", \"-\"), or remove the key to use the number", who, quote(e.Endpoint.V))
				ok = false
			}
		}
		if ok && ext.Endpoint != "" {
			switch prev := endpoints[ext.Endpoint]; {
			case prev != nil:
				v.errs.at(endpointNode, "%s: endpoint %s is already the endpoint of the extension at line %d; each phone has its own endpoint", who, quote(ext.Endpoint), prev.Line)
				ok = false
			case trunks[ext.Endpoint] != nil:
				v.errs.at(endpointNode, "%s: endpoint %s is also a trunk (line %d); a phone cannot be a trunk: fix one of them", who, quote(ext.Endpoint), trunks[ext.Endpoint].Line)
				ok = false
			default:
				endpoints[ext.Endpoint] = endpointNode
			}
		}
		if ok {
			v.r.extensions = append(v.r.extensions, ext)
		}
	}
	slices.SortStableFunc(v.r.extensions, func(a, b Extension) int { return compareNumbers(a.Number, b.Number) })
	for i, e := range v.r.extensions {
		v.r.extByNumber[e.Number] = i
		v.r.extByEnd[e.Endpoint] = i
	}
}

func (v *validator) neverRecord(ns []rawNever, trunks map[string]*yaml.Node) {
	numbers := map[string]*yaml.Node{}
	endpoints := map[string]*yaml.Node{}
	extDigits := map[string]Extension{}
	for _, e := range v.r.extensions {
		extDigits[e.Number] = e
	}
	for _, n := range ns {
		entry := NeverRecord{}
		ok := true
		if !n.HasPhone {
			v.errs.at(n.N, "never_record entry has neither number nor endpoint; give the phone's number, e.g. number: 899")
			ok = false
		}
		numberNode := n.Number.N
		if n.Number.ok() {
			entry.Number = n.Number.V
			digits := digitsOf(n.Number.V)
			switch prev := numbers[digits]; {
			case len(n.Number.V) > maxNumberLen || !isNumber(n.Number.V):
				v.errs.at(n.Number.N, "never_record number %s: use digits only (a leading \"+\" is allowed), e.g. 899", quote(n.Number.V))
				ok = false
			case prev != nil:
				v.errs.at(n.Number.N, "never_record number %s is listed twice (first %s); remove one", quote(n.Number.V), firstAt(prev, n.Number.N))
				ok = false
			default:
				numbers[digits] = n.Number.N
				if ext, clash := extDigits[digits]; clash {
					v.errs.at(n.Number.N, "never_record number %s is Annexe A extension %s (line %d): a phone is either recorded or never recorded; remove it from one of the lists", quote(n.Number.V), ext.Number, v.lineOfExtension(ext.Number))
					ok = false
				}
			}
		}
		entry.Endpoint = entry.Number
		endpointNode := numberNode
		if n.Endpoint.ok() {
			entry.Endpoint, endpointNode = n.Endpoint.V, n.Endpoint.N
			if !isEndpoint(n.Endpoint.V) || len(n.Endpoint.V) > maxNameLen {
				v.errs.at(n.Endpoint.N, "never_record endpoint %s: give the PJSIP endpoint name (letters, digits, \".\", \"_\", \"+\", \"-\"), or remove the key to use the number", quote(n.Endpoint.V))
				ok = false
			}
		}
		if entry.Endpoint != "" && ok {
			i, isExt := v.r.extByEnd[entry.Endpoint]
			switch prev := endpoints[entry.Endpoint]; {
			case trunks[entry.Endpoint] != nil:
				v.errs.at(endpointNode, "never_record endpoint %s is a trunk (line %d): every external call would go unrecorded; name the phone's own endpoint", quote(entry.Endpoint), trunks[entry.Endpoint].Line)
				ok = false
			case isExt:
				v.errs.at(endpointNode, "never_record endpoint %s is the endpoint of Annexe A extension %s (line %d): a phone is either recorded or never recorded; remove it from one of the lists", quote(entry.Endpoint), v.r.extensions[i].Number, v.lineOfExtension(v.r.extensions[i].Number))
				ok = false
			case prev != nil:
				v.errs.at(endpointNode, "never_record endpoint %s is listed twice (first %s); remove one", quote(entry.Endpoint), firstAt(prev, endpointNode))
				ok = false
			default:
				endpoints[entry.Endpoint] = endpointNode
			}
		}
		if v.nonEmpty(n.Reason, "never_record reason", `"Téléphone des détenus"`) {
			entry.Reason = n.Reason.V
		}
		if ok {
			i := len(v.r.never)
			v.r.never = append(v.r.never, entry)
			if entry.Endpoint != "" {
				v.r.neverByEnd[entry.Endpoint] = i
			}
			if d := digitsOf(entry.Number); d != "" {
				v.r.neverByDigits[d] = i
			}
		}
	}
}

// lineOfExtension returns the line where an extension number is written.
func (v *validator) lineOfExtension(number string) int { return v.extLines[number] }

func (v *validator) numbers(x rawExternal) {
	seen := map[string]*yaml.Node{}
	for _, p := range x.Numbers {
		if !v.nonEmpty(p, "external.numbers pattern", `'9.+'`) {
			continue
		}
		if prev := seen[p.V]; prev != nil {
			v.errs.at(p.N, "external number pattern %s is listed twice (first %s); remove one", quote(p.V), firstAt(prev, p.N))
			continue
		}
		seen[p.V] = p.N
		if len(p.V) > maxPatternLen {
			v.errs.at(p.N, "external number pattern is longer than %d characters; simplify it", maxPatternLen)
			continue
		}
		if _, err := regexp.Compile(p.V); err != nil {
			v.errs.at(p.N, "external number pattern %s is not a valid regular expression: %s", quote(p.V), strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			continue
		}
		re, err := regexp.Compile(`^(?:` + p.V + `)$`)
		if err != nil {
			v.errs.at(p.N, "external number pattern %s cannot be anchored to the whole number: %s", quote(p.V), strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			continue
		}
		clash := ""
		for _, e := range v.r.extensions {
			if re.MatchString(e.Number) {
				clash = e.Number
				break
			}
		}
		if clash != "" {
			v.errs.at(p.N, "external number pattern %s matches Annexe A extension %s: calls between city phones would count as external; make the pattern stricter", quote(p.V), clash)
			continue
		}
		v.r.numbers = append(v.r.numbers, numberPattern{src: p.V, re: re})
	}
}

// siteLinks checks the trunks to the city's other PBX sites: each is its
// own endpoint (never a carrier trunk, whose presented numbers are never
// trusted, nor a phone), with a name and optional number patterns.
func (v *validator) siteLinks(links []rawSiteLink, trunks map[string]*yaml.Node) {
	seen := map[string]*yaml.Node{}
	for _, l := range links {
		ok := true
		if v.nonEmpty(l.Trunk, "site_links trunk", "poste-police") {
			t := l.Trunk.V
			_, isExt := v.r.extByEnd[t]
			_, isNever := v.r.neverByEnd[t]
			switch prev := seen[t]; {
			case len(t) > maxNameLen || !isEndpoint(t):
				v.errs.at(l.Trunk.N, "site link trunk %s: give the PJSIP endpoint name of the trunk (letters, digits, \".\", \"_\", \"+\", \"-\"), e.g. poste-police", quote(t))
				ok = false
			case trunks[t] != nil:
				v.errs.at(l.Trunk.N, "site link trunk %s is also a carrier trunk (line %d): a carrier trunk is never trusted for the numbers callers present; list it in one place only", quote(t), trunks[t].Line)
				ok = false
			case isExt || isNever:
				v.errs.at(l.Trunk.N, "site link trunk %s is the endpoint of a phone; name the trunk's own endpoint", quote(t))
				ok = false
			case prev != nil:
				v.errs.at(l.Trunk.N, "site link trunk %s is listed twice (first %s); remove one", quote(t), firstAt(prev, l.Trunk.N))
				ok = false
			default:
				seen[t] = l.Trunk.N
			}
		} else {
			ok = false
		}
		if !v.nonEmpty(l.Name, "site_links name", `"Poste de police"`) {
			ok = false
		}
		link := SiteLink{Trunk: l.Trunk.V, Name: l.Name.V}
		for _, p := range l.Numbers {
			if !v.nonEmpty(p, "site_links numbers pattern", `'8[0-9]{2}'`) {
				ok = false
				continue
			}
			_, err := regexp.Compile(p.V)
			var re *regexp.Regexp
			if err == nil {
				re, err = regexp.Compile(`^(?:` + p.V + `)$`)
			}
			if err != nil || len(p.V) > maxPatternLen {
				msg := "longer than the limit"
				if err != nil {
					msg = strings.TrimPrefix(err.Error(), "error parsing regexp: ")
				}
				v.errs.at(p.N, "site link number pattern %s is not a valid regular expression of at most %d characters: %s", quote(p.V), maxPatternLen, msg)
				ok = false
				continue
			}
			link.Numbers = append(link.Numbers, p.V)
			link.numbers = append(link.numbers, numberPattern{src: p.V, re: re})
		}
		if ok {
			v.r.siteByEnd[link.Trunk] = len(v.r.sites)
			v.r.sites = append(v.r.sites, link)
		}
	}
}

func (v *validator) retention(rr rawRetention) {
	if rr.N == nil || rr.N.Kind != yaml.MappingNode {
		return
	}
	hasStandard := false
	for _, c := range rr.Classes {
		if c.Name.V == "standard" {
			hasStandard = true
		}
		if len(c.Name.V) > maxNameLen || !isSlug(c.Name.V) {
			v.errs.at(c.Name.N, "retention class %s: use lower-case letters, digits, \"-\" or \"_\", starting with a letter, e.g. complaint", quote(c.Name.V))
			continue
		}
		if c.Days.N == nil {
			continue
		}
		switch {
		case c.Days.V < minRetentionDays:
			v.errs.at(c.Days.N, "retention class %s keeps %d days; the policy keeps files and logs at least one year: use %d or more", quote(c.Name.V), c.Days.V, minRetentionDays)
		case c.Days.V > maxRetentionDays:
			v.errs.at(c.Days.N, "retention class %s keeps %d days, more than a century; check the number (it is in days)", quote(c.Name.V), c.Days.V)
		default:
			v.r.retention[c.Name.V] = c.Days.V
		}
	}
	if !hasStandard {
		v.errs.at(rr.N, "retention has no \"standard\" class; add standard: %d (the policy keeps files and logs at least one year)", minRetentionDays)
	}
}

// schedule validates one cron expression and returns it.
func (v *validator) schedule(s scalar, job string) string {
	label := "schedules." + job
	if !v.nonEmpty(s, label, `"30 3 * * *"`) {
		return ""
	}
	spec := strings.TrimSpace(s.V)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		v.errs.at(s.N, "%s %s: remove the time zone prefix; schedules run in the top-level timezone", label, quote(s.V))
		return ""
	}
	sched, err := parseCron(spec)
	if err != nil {
		v.errs.at(s.N, "%s %s is not a valid cron expression (%v); use five fields \"minute hour day-of-month month day-of-week\" such as \"30 3 * * *\", or a descriptor such as @daily", label, quote(s.V), err)
		return ""
	}
	if every, ok := sched.(cron.ConstantDelaySchedule); ok && every.Delay < time.Minute {
		v.errs.at(s.N, "%s %s runs more often than once a minute; use @every 1m or longer", label, quote(s.V))
		return ""
	}
	return spec
}

// parseCron parses a standard cron expression or descriptor, turning a
// panic of the cron parser into an error.
func parseCron(spec string) (sched cron.Schedule, err error) {
	defer func() {
		if p := recover(); p != nil {
			sched, err = nil, fmt.Errorf("unparsable: %v", p)
		}
	}()
	return cron.ParseStandard(spec)
}
