package rules

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteShow prints the rules for "recpolicy rules show": the settings,
// the departments, then the extensions grouped by department in an
// aligned table with their flags (confidential, shared with another
// department), and the never_record phones flagged never-record. An
// extension of two departments appears under each.
func (r *Rules) WriteShow(w io.Writer) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }

	example := "235"
	if len(r.extensions) > 0 {
		example = r.extensions[0].Number
	}
	at := time.Date(2026, time.November, 28, 9, 5, 0, 0, r.loc)
	var classes []string
	for _, c := range r.RetentionClasses() {
		classes = append(classes, fmt.Sprintf("%s %d days", c, r.retention[c]))
	}
	p("rules\t%s\n", cell(r.source))
	p("sha256\t%s\n", r.digest)
	p("timezone\t%s\n", r.timezone)
	p("filename\t%s (e.g. %s.wav)\n", r.name.text, r.FileName(at, example))
	p("greeting\t%s (%s), %s\n", r.greeting.Sound, r.greeting.Language, cell(r.greeting.File))
	p("trunks\t%s\n", strings.Join(r.trunks, ", "))
	p("external numbers\t%s\n", orNone(cell(strings.Join(r.ExternalNumbers(), "  "))))
	for _, l := range r.sites {
		p("site link\t%s: %s, trusted for city numbers%s\n", l.Trunk, cell(l.Name), cell(siteNumbers(l)))
	}
	p("retention\t%s\n", strings.Join(classes, ", "))
	p("schedules\tretention %q, integrity %q, report %q\n", r.schedules.Retention, r.schedules.Integrity, r.schedules.Report)
	for _, in := range r.instructions {
		what := in.Effect + " " + strings.Join(in.Extensions, ", ")
		if in.Class != "" {
			what += " (class " + in.Class + ")"
		}
		p("instruction\t%s: %s, by %s\n", in.ID, what, cell(in.Describe(r.loc)))
	}
	p("\n")
	if err := tw.Flush(); err != nil {
		return err
	}

	p("DEPARTMENT\tID\tDIRECTOR\tDIRECTOR USER\tEXTENSIONS\n")
	for _, d := range r.departments {
		n := 0
		for _, e := range r.extensions {
			if hasDepartment(e, d.ID) {
				n++
			}
		}
		p("%s\t%s\t%s\t%s\t%d\n", cell(d.Name), d.ID, cell(d.Director), orNone(d.DirectorUser), n)
	}
	p("\n")
	if err := tw.Flush(); err != nil {
		return err
	}

	p("DEPARTMENT\tEXTENSION\tENDPOINT\tDESCRIPTION\tFLAGS\n")
	for _, d := range r.departments {
		first := true
		for _, e := range r.extensions {
			if !hasDepartment(e, d.ID) {
				continue
			}
			name := ""
			if first {
				name, first = cell(d.Name), false
			}
			p("%s\t%s\t%s\t%s\t%s\n", name, e.Number, e.Endpoint, cell(e.Description), r.flags(e, d.ID))
		}
	}
	for i, n := range r.never {
		name := ""
		if i == 0 {
			name = "(never_record)"
		}
		p("%s\t%s\t%s\t%s\t%s\n", name, orNone(n.Number), orNone(n.Endpoint), cell(n.Reason), "never-record")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// tabwriter pads every cell, even before an empty last one.
	var out strings.Builder
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if trimmed := strings.TrimRight(line, " \n"); trimmed != line {
			if strings.HasSuffix(line, "\n") {
				trimmed += "\n"
			}
			line = trimmed
		}
		out.WriteString(line)
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// cell keeps a value on one line and out of the table's columns.
func cell(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

// flags lists what sets an extension apart, seen from one department.
func (r *Rules) flags(e Extension, dept string) string {
	var flags []string
	if e.Confidential {
		flags = append(flags, "confidential")
	}
	for _, id := range e.Departments {
		if id != dept {
			if d, ok := r.Department(id); ok {
				flags = append(flags, "also "+cell(d.Name))
			}
		}
	}
	return strings.Join(flags, ", ")
}

// hasDepartment reports whether an extension belongs to a department.
func hasDepartment(e Extension, id string) bool {
	for _, d := range e.Departments {
		if d == id {
			return true
		}
	}
	return false
}

// orNone shows an empty value as "-".
func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// siteNumbers lists a site link's own number patterns for show.
func siteNumbers(l SiteLink) string {
	if len(l.Numbers) == 0 {
		return ""
	}
	return " and " + strings.Join(l.Numbers, "  ")
}
