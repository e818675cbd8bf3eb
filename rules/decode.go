package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// readDocument parses data into one YAML document node. yaml.v3 reports
// syntax errors with a line but no column: they are given column 1.
func readDocument(data []byte, errs *errorList) (root *yaml.Node) {
	defer func() {
		// yaml.v3 is not supposed to panic; if it does on some input, the
		// file is rejected rather than the daemon brought down.
		if v := recover(); v != nil {
			errs.pos(1, 1, "YAML parser failure (%v); check the file's syntax", v)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			errs.pos(1, 1, "the rules file is empty; see rules/mercier.yaml for an example")
			return nil
		}
		yamlError(err, errs)
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		yamlError(err, errs)
		return nil
	default:
		errs.at(&next, "a second YAML document starts here; a rules file holds one document: remove the \"---\" and what follows, or merge it into the first")
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		errs.pos(1, 1, "the rules file is empty; see rules/mercier.yaml for an example")
		return nil
	}
	return doc.Content[0]
}

// yamlError records a yaml.v3 syntax error.
func yamlError(err error, errs *errorList) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, convErr := strconv.Atoi(num); convErr == nil && n > 0 {
				line, msg = n, after
			}
		}
	}
	errs.pos(line, 1, "YAML syntax error: %s", msg)
}

// decoder walks the document node and fills a rawFile, recording every
// structural problem (unknown or repeated keys, wrong types) as it goes.
type decoder struct {
	errs *errorList
}

// field describes one key of a mapping.
type field struct {
	key      string
	required bool
	hint     string // what to write, for the "missing key" message
	decode   func(val *yaml.Node)
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "key: value pairs"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.ShortTag() {
	case "!!null":
		return "nothing"
	case "!!bool":
		return "true/false (" + n.Value + ")"
	case "!!int", "!!float":
		return "the number " + n.Value
	case "!!str":
		return "the text " + quote(n.Value)
	}
	return "a value tagged " + n.Tag
}

// quote quotes a value for a message, shortening long ones.
func quote(s string) string {
	const max = 60
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return strconv.Quote(s)
}

// usable rejects aliases, which the rules file does not support: every
// value is written out where it applies.
func (d *decoder) usable(n *yaml.Node, label string) bool {
	if n.Kind == yaml.AliasNode {
		d.errs.at(n, "%s: aliases (*%s) are not supported in a rules file; write the value out", label, n.Value)
		return false
	}
	return true
}

// mapping checks that n is a mapping, decodes its known keys, and reports
// unknown, repeated and missing keys. where names the mapping in messages.
func (d *decoder) mapping(n *yaml.Node, label, where string, fields []field) bool {
	if !d.usable(n, label) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.errs.at(n, "%s: expected key: value pairs, got %s", label, describe(n))
		return false
	}
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	seen := map[string]bool{}
	// A key reported as a likely typo, or a merge key, explains a missing
	// key better than a second message.
	excused := map[string]bool{}
	merged := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			merged = true
		}
	}
	d.pairs(n, where, func(k, v *yaml.Node) {
		for _, f := range fields {
			if f.key == k.Value {
				seen[k.Value] = true
				f.decode(v)
				return
			}
		}
		if s := suggest(k.Value, keys); s != "" {
			excused[s] = true
			d.errs.at(k, "unknown key %s in %s; did you mean %q?", quote(k.Value), where, s)
			return
		}
		d.errs.at(k, "unknown key %s in %s (known keys: %s)", quote(k.Value), where, strings.Join(keys, ", "))
	})
	for _, f := range fields {
		if f.required && !seen[f.key] && !excused[f.key] && !merged {
			d.errs.at(n, "missing key %q in %s: %s", f.key, where, f.hint)
		}
	}
	return true
}

// pairs calls fn for each key of mapping n, reporting keys that are not
// plain text, merge keys and repeated keys (which fn never sees).
func (d *decoder) pairs(n *yaml.Node, where string, fn func(k, v *yaml.Node)) {
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.errs.at(k, "keys in %s must be plain words, got %s", where, describe(k))
			continue
		case k.Value == "<<" && k.ShortTag() == "!!merge":
			d.errs.at(k, "merge keys (<<) are not supported in a rules file; write the keys out")
			continue
		}
		if prev, ok := first[k.Value]; ok {
			d.errs.at(k, "key %s is repeated in %s (first %s); remove one", quote(k.Value), where, firstAt(prev, k))
			continue
		}
		first[k.Value] = k
		fn(k, v)
	}
}

// list checks that n is a list (or nothing, read as an empty list) and
// calls fn for each usable item.
func (d *decoder) list(n *yaml.Node, label string, fn func(item *yaml.Node)) bool {
	if !d.usable(n, label) {
		return false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return true
	}
	if n.Kind != yaml.SequenceNode {
		d.errs.at(n, "%s: expected a list (lines starting with \"- \", or [a, b]), got %s", label, describe(n))
		return false
	}
	for _, item := range n.Content {
		if d.usable(item, label) {
			fn(item)
		}
	}
	return true
}

// What a scalar field accepts.
type textKind int

const (
	plainText  textKind = iota // a YAML string
	nameText                   // a string or an integer (endpoint and trunk names)
	numberText                 // a string or an integer, announced as a number
	regexText                  // a string or an integer, announced as a regular expression
	timeText                   // a string or a YAML timestamp (2026-11-21, 2026-11-21T08:00)
)

// text decodes a string. Except for plainText, a YAML integer is accepted
// too, and its text as written is kept (0235 stays "0235").
func (d *decoder) text(n *yaml.Node, label string, kind textKind) scalar {
	if !d.usable(n, label) {
		return scalar{}
	}
	if n.Kind == yaml.ScalarNode {
		switch tag := n.ShortTag(); {
		case tag == "!!str", kind != plainText && kind != timeText && tag == "!!int", kind == timeText && tag == "!!timestamp":
			return scalar{V: n.Value, N: n}
		case tag == "!!null":
			d.errs.at(n, "%s is empty; give a value", label)
			return scalar{}
		}
	}
	switch kind {
	case numberText:
		d.errs.at(n, "%s: expected a number such as 235, got %s", label, describe(n))
	case regexText:
		d.errs.at(n, "%s: expected a regular expression, got %s; put it in single quotes, e.g. '[0-9]+'", label, describe(n))
	default:
		hint := ""
		if n.Kind == yaml.ScalarNode {
			hint = "; put it in quotes if it is meant as text"
		}
		d.errs.at(n, "%s: expected text, got %s%s", label, describe(n), hint)
	}
	return scalar{}
}

// boolean decodes true or false.
func (d *decoder) boolean(n *yaml.Node, label string) flag {
	if !d.usable(n, label) {
		return flag{}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		switch strings.ToLower(n.Value) {
		case "true":
			return flag{V: true, N: n}
		case "false":
			return flag{V: false, N: n}
		}
	}
	d.errs.at(n, "%s: expected true or false, got %s", label, describe(n))
	return flag{}
}

// integer decodes a decimal whole number.
func (d *decoder) integer(n *yaml.Node, label, unit string) number {
	if !d.usable(n, label) {
		return number{}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		if v, err := strconv.Atoi(n.Value); err == nil {
			return number{V: v, N: n}
		}
	}
	d.errs.at(n, "%s: expected a whole number of %s such as 365, got %s", label, unit, describe(n))
	return number{}
}

// decodeFile walks the whole document.
func (d *decoder) decodeFile(root *yaml.Node) *rawFile {
	f := &rawFile{root: root}
	d.mapping(root, "rules file", "the rules file", []field{
		{"timezone", true, "the IANA time zone of file names and schedules, e.g. timezone: America/Toronto", func(v *yaml.Node) {
			f.Timezone = d.text(v, "timezone", plainText)
		}},
		{"filename", true, `the recording file name template, e.g. filename: "{date}-{hour}{minute}-{extension}"`, func(v *yaml.Node) {
			f.Filename = d.text(v, "filename", plainText)
		}},
		{"greeting", true, "the recording notice played to callers (sound, file, language)", func(v *yaml.Node) {
			d.greeting(v, &f.Greeting)
		}},
		{"departments", true, "the departments (Direction column) of Annexe A", func(v *yaml.Node) {
			d.departments(v, &f.Departments)
		}},
		{"extensions", true, "the extensions of Annexe A, which are recorded", func(v *yaml.Node) {
			d.extensions(v, &f.Extensions)
		}},
		{"never_record", false, "", func(v *yaml.Node) {
			d.neverRecord(v, &f.NeverRecord)
		}},
		{"external", true, "what makes a party external (trunks, numbers)", func(v *yaml.Node) {
			d.external(v, &f.External)
		}},
		{"site_links", false, "", func(v *yaml.Node) {
			d.siteLinks(v, &f.SiteLinks)
		}},
		{"retention", true, "retention classes in days, at least standard: 365", func(v *yaml.Node) {
			d.retention(v, &f.Retention)
		}},
		{"schedules", true, "cron schedules of the retention and integrity jobs", func(v *yaml.Node) {
			d.schedules(v, &f.Schedules)
		}},
		{"instructions", false, "", func(v *yaml.Node) {
			d.instructions(v, &f.Instructions)
		}},
	})
	return f
}

func (d *decoder) greeting(n *yaml.Node, g *rawGreeting) {
	d.mapping(n, "greeting", "greeting", []field{
		{"sound", true, "the Asterisk sound name, e.g. sound: recpolicy/avis-enregistrement", func(v *yaml.Node) {
			g.Sound = d.text(v, "greeting.sound", plainText)
		}},
		{"file", true, "the greeting WAV, relative to the rules file's directory, e.g. file: sounds/avis-enregistrement.wav", func(v *yaml.Node) {
			g.File = d.text(v, "greeting.file", plainText)
		}},
		{"language", true, "the greeting's language, e.g. language: fr", func(v *yaml.Node) {
			g.Language = d.text(v, "greeting.language", plainText)
		}},
	})
}

func (d *decoder) departments(n *yaml.Node, ds *rawDepartments) {
	ds.N = n
	ds.Complete = d.list(n, "departments", func(item *yaml.Node) {
		dep := rawDepartment{N: item}
		d.mapping(item, "department", "a department", []field{
			{"id", true, "a short identifier used by extensions, e.g. id: greffe", func(v *yaml.Node) {
				dep.ID = d.text(v, "department.id", plainText)
			}},
			{"name", true, "the name as written in Annexe A, e.g. name: Greffe", func(v *yaml.Node) {
				dep.Name = d.text(v, "department.name", plainText)
			}},
			{"director", true, "who directs it (name or role), e.g. director: \"Me Denis Ferland, greffier\"", func(v *yaml.Node) {
				dep.Director = d.text(v, "department.director", plainText)
			}},
			{"director_user", false, "", func(v *yaml.Node) {
				dep.DirectorUser = d.text(v, "department.director_user", plainText)
			}},
		})
		ds.Items = append(ds.Items, dep)
	})
	for _, dep := range ds.Items {
		if !dep.ID.ok() {
			ds.Complete = false
		}
	}
}

func (d *decoder) extensions(n *yaml.Node, es *rawExtensions) {
	es.N = n
	d.list(n, "extensions", func(item *yaml.Node) {
		e := rawExtension{N: item}
		d.mapping(item, "extension", "an extension", []field{
			{"number", true, "the extension number as in Annexe A, e.g. number: 235", func(v *yaml.Node) {
				e.Number = d.text(v, "extension.number", numberText)
			}},
			{"departments", true, "the ids of its departments, e.g. departments: [greffe]", func(v *yaml.Node) {
				e.DeptsN = v
				d.list(v, "extension.departments", func(id *yaml.Node) {
					if s := d.text(id, "extension.departments", plainText); s.ok() {
						e.Departments = append(e.Departments, s)
					}
				})
			}},
			{"description", true, "the description as in Annexe A, e.g. description: \"Directeur\"", func(v *yaml.Node) {
				e.Description = d.text(v, "extension.description", plainText)
			}},
			{"confidential", false, "", func(v *yaml.Node) {
				e.Confidential = d.boolean(v, "extension.confidential")
			}},
			{"endpoint", false, "", func(v *yaml.Node) {
				e.Endpoint = d.text(v, "extension.endpoint", nameText)
			}},
		})
		es.Items = append(es.Items, e)
	})
}

func (d *decoder) neverRecord(n *yaml.Node, ns *[]rawNever) {
	d.list(n, "never_record", func(item *yaml.Node) {
		e := rawNever{N: item}
		d.mapping(item, "never_record entry", "a never_record entry", []field{
			{"number", false, "", func(v *yaml.Node) {
				e.HasPhone = true
				e.Number = d.text(v, "never_record.number", numberText)
			}},
			{"endpoint", false, "", func(v *yaml.Node) {
				e.HasPhone = true
				e.Endpoint = d.text(v, "never_record.endpoint", nameText)
			}},
			{"reason", true, "why this phone is never recorded, e.g. reason: \"Téléphone des détenus\"", func(v *yaml.Node) {
				e.Reason = d.text(v, "never_record.reason", plainText)
			}},
		})
		*ns = append(*ns, e)
	})
}

func (d *decoder) external(n *yaml.Node, x *rawExternal) {
	x.N = n
	d.mapping(n, "external", "external", []field{
		{"trunks", true, "the PJSIP endpoints of the carrier trunks, e.g. trunks: [carrier]", func(v *yaml.Node) {
			x.TrunksN = v
			d.list(v, "external.trunks", func(item *yaml.Node) {
				if s := d.text(item, "external.trunks", nameText); s.ok() {
					x.Trunks = append(x.Trunks, s)
				}
			})
		}},
		{"numbers", false, "", func(v *yaml.Node) {
			d.list(v, "external.numbers", func(item *yaml.Node) {
				if s := d.text(item, "external.numbers", regexText); s.ok() {
					x.Numbers = append(x.Numbers, s)
				}
			})
		}},
	})
}

func (d *decoder) siteLinks(n *yaml.Node, ls *[]rawSiteLink) {
	d.list(n, "site_links", func(item *yaml.Node) {
		l := rawSiteLink{N: item}
		d.mapping(item, "site link", "a site link", []field{
			{"trunk", true, "the PJSIP endpoint of the trunk to the other site, e.g. trunk: poste-police", func(v *yaml.Node) {
				l.Trunk = d.text(v, "site_links.trunk", nameText)
			}},
			{"name", true, "which site it reaches, e.g. name: \"Poste de police\"", func(v *yaml.Node) {
				l.Name = d.text(v, "site_links.name", plainText)
			}},
			{"numbers", false, "", func(v *yaml.Node) {
				d.list(v, "site_links.numbers", func(item *yaml.Node) {
					if s := d.text(item, "site_links.numbers", regexText); s.ok() {
						l.Numbers = append(l.Numbers, s)
					}
				})
			}},
		})
		*ls = append(*ls, l)
	})
}

func (d *decoder) instructions(n *yaml.Node, ls *[]rawInstruction) {
	d.list(n, "instructions", func(item *yaml.Node) {
		in := rawInstruction{N: item}
		d.mapping(item, "instruction", "an exceptional instruction", []field{
			{"id", true, "its identifier, e.g. id: DG-2026-07", func(v *yaml.Node) { in.ID = d.text(v, "instructions.id", nameText) }},
			{"role", true, "who gave it: role: mairesse (or maire, directeur général, directrice générale)", func(v *yaml.Node) {
				in.Role = d.text(v, "instructions.role", plainText)
			}},
			{"name", true, "the name of who gave it, e.g. name: \"Paul Gagnon\"", func(v *yaml.Node) { in.Name = d.text(v, "instructions.name", plainText) }},
			{"reference", true, "the written instruction's reference, e.g. reference: \"note DG-2026-07 du 2026-11-20\"", func(v *yaml.Node) {
				in.Reference = d.text(v, "instructions.reference", plainText)
			}},
			{"from", true, "when it starts, e.g. from: 2026-11-21T08:00", func(v *yaml.Node) { in.From = d.text(v, "instructions.from", timeText) }},
			{"until", true, "when it ends (an instruction is never open-ended), e.g. until: 2026-11-28T08:00", func(v *yaml.Node) {
				in.Until = d.text(v, "instructions.until", timeText)
			}},
			{"effect", true, "what it does: effect: suspend, record or retain", func(v *yaml.Node) { in.Effect = d.text(v, "instructions.effect", plainText) }},
			{"extensions", true, "the extensions it concerns, e.g. extensions: [245]", func(v *yaml.Node) {
				d.list(v, "instructions.extensions", func(x *yaml.Node) {
					if s := d.text(x, "instructions.extensions", numberText); s.ok() {
						in.Extensions = append(in.Extensions, s)
					}
				})
			}},
			{"class", false, "", func(v *yaml.Node) { in.Class = d.text(v, "instructions.class", plainText) }},
			{"reason", false, "", func(v *yaml.Node) { in.Reason = d.text(v, "instructions.reason", plainText) }},
		})
		*ls = append(*ls, in)
	})
}

func (d *decoder) retention(n *yaml.Node, r *rawRetention) {
	r.N = n
	if !d.usable(n, "retention") {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errs.at(n, "retention: expected key: value pairs (class: days), got %s", describe(n))
		return
	}
	d.pairs(n, "retention", func(k, v *yaml.Node) {
		c := rawClass{Name: scalar{V: k.Value, N: k}}
		c.Days = d.integer(v, "retention."+k.Value, "days")
		r.Classes = append(r.Classes, c)
	})
}

func (d *decoder) schedules(n *yaml.Node, s *rawSchedules) {
	d.mapping(n, "schedules", "schedules", []field{
		{"retention", true, "when the retention job runs, e.g. retention: \"30 3 * * *\"", func(v *yaml.Node) {
			s.Retention = d.text(v, "schedules.retention", plainText)
		}},
		{"integrity", true, "when the integrity job runs, e.g. integrity: \"@weekly\"", func(v *yaml.Node) {
			s.Integrity = d.text(v, "schedules.integrity", plainText)
		}},
		{"report", false, "when the monthly compliance report of the month before is written, e.g. report: \"0 6 1 * *\"", func(v *yaml.Node) {
			s.Report = d.text(v, "schedules.report", plainText)
		}},
	})
}

// suggest returns the known word closest to w when it is a likely typo.
func suggest(w string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(w), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" && bestDist*3 > len([]rune(best)) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes. It
// gives up (returning a large distance) on long inputs.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// formatList joins words for messages: "a", "a and b", "a, b and c".
func formatList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return fmt.Sprintf("%s and %s", strings.Join(words[:len(words)-1], ", "), words[len(words)-1])
}
