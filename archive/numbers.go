package archive

import "strings"

// Number flags: why a number column holds NULL, or "ok".
const (
	NumberOK       = "ok"       // a usable number
	NumberWithheld = "withheld" // empty, anonymous, restricted, unknown
	NumberInvalid  = "invalid"  // something that is not a number
)

// ClassifyNumber returns the usable form of a raw calling or called number
// ("" when there is none) and its flag. A usable number is digits, with an
// optional leading "+", and "*" or "#" for feature codes; spaces, dots,
// dashes and parentheses between digits are removed.
func ClassifyNumber(raw string) (number, flag string) {
	s := strings.TrimSpace(raw)
	switch strings.ToLower(s) {
	case "", "anonymous", "restricted", "unknown", "<unknown>", "private", "unavailable", "withheld":
		return "", NumberWithheld
	}
	var b strings.Builder
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
			b.WriteRune(r)
		case r == '+' && i == 0, r == '*', r == '#':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", NumberInvalid
		}
	}
	if digits == 0 {
		return "", NumberInvalid
	}
	return b.String(), NumberOK
}
