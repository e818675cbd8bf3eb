package rules

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The placeholders of the file name template. The policy requires the
// date, hour, minute and extension in every recording's file name.
const (
	phDate      = "date"      // YYYYMMDD
	phHour      = "hour"      // HH, 00-23
	phMinute    = "minute"    // MM
	phSecond    = "second"    // SS (optional)
	phExtension = "extension" // the Annexe A extension number
)

// nameTemplate is a parsed file name template.
type nameTemplate struct {
	text  string
	parts []namePart
}

// namePart is either literal text or a placeholder.
type namePart struct {
	lit, ph string
}

// parseTemplate parses a file name template, returning every problem
// found as a message.
func parseTemplate(s string) (nameTemplate, []string) {
	t := nameTemplate{text: s}
	var problems []string
	if s == "" {
		return t, []string{`filename is empty; use e.g. "{date}-{hour}{minute}-{extension}"`}
	}
	have := map[string]bool{}
	badChars := map[rune]bool{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, namePart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				problems = append(problems, fmt.Sprintf("filename %s: \"{\" at byte %d is never closed; write placeholders as {date}", quote(s), i+1))
				i = len(s)
				continue
			}
			name := s[i+1 : i+end]
			switch name {
			case phDate, phHour, phMinute, phSecond, phExtension:
				flush()
				t.parts = append(t.parts, namePart{ph: name})
				have[name] = true
			default:
				problems = append(problems, fmt.Sprintf("filename %s: unknown placeholder {%s}; use {date}, {hour}, {minute}, {second} or {extension}", quote(s), name))
			}
			i += end + 1
		case c == '}':
			problems = append(problems, fmt.Sprintf("filename %s: \"}\" at byte %d has no matching \"{\"", quote(s), i+1))
			i++
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			lit.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if !badChars[r] {
				badChars[r] = true
				problems = append(problems, fmt.Sprintf("filename %s: character %q is not allowed in a recording's file name; use letters, digits, \"-\", \"_\" or \".\"", quote(s), r))
			}
			i += size
		}
	}
	flush()
	var missing []string
	for _, ph := range []string{phDate, phHour, phMinute, phExtension} {
		if !have[ph] {
			missing = append(missing, "{"+ph+"}")
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("filename %s lacks %s; the policy requires the date, hour, minute and extension in every file name, e.g. \"{date}-{hour}{minute}-{extension}\"", quote(s), formatList(missing)))
	}
	if strings.HasSuffix(strings.ToLower(s), ".wav") {
		problems = append(problems, fmt.Sprintf("filename %s: leave out \".wav\"; the recorder adds it", quote(s)))
	}
	if strings.HasPrefix(s, ".") {
		problems = append(problems, fmt.Sprintf("filename %s: a name starting with \".\" would hide the recording; start with a placeholder or a letter", quote(s)))
	}
	return t, problems
}

// render fills the template for a time (already in the rules' zone) and
// an extension number.
func (t nameTemplate) render(at time.Time, extension string) string {
	var b strings.Builder
	for _, p := range t.parts {
		switch p.ph {
		case "":
			b.WriteString(p.lit)
		case phDate:
			b.WriteString(at.Format("20060102"))
		case phHour:
			b.WriteString(at.Format("15"))
		case phMinute:
			b.WriteString(at.Format("04"))
		case phSecond:
			b.WriteString(at.Format("05"))
		case phExtension:
			b.WriteString(safeName(extension))
		}
	}
	return b.String()
}

// safeName keeps an extension usable in a file name: anything but
// letters, digits, "-" and "_" becomes "_", and an empty one "unknown".
func safeName(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}
