package ami

import "strings"

// Unescape undoes the C escaping that Asterisk applies to some values
// (CallerIDName, ConnectedLineName, ChanVariable, VarSet values...):
// \\ \" \' \? \n \t \r \a \b \f \v and \xHH (two hex digits). Unknown or
// incomplete escape sequences are left as they are. Values are never
// unescaped automatically.
func Unescape(s string) string {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for i < len(s) {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b = append(b, c)
			i++
			continue
		}
		e := s[i+1]
		switch e {
		case '\\', '"', '\'', '?':
			b = append(b, e)
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case 'r':
			b = append(b, '\r')
		case 'a':
			b = append(b, '\a')
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'v':
			b = append(b, '\v')
		case 'x':
			if i+3 < len(s) {
				hi, ok1 := unhex(s[i+2])
				lo, ok2 := unhex(s[i+3])
				if ok1 && ok2 {
					b = append(b, hi<<4|lo)
					i += 4
					continue
				}
			}
			b = append(b, '\\', 'x')
		default:
			b = append(b, '\\', e)
		}
		i += 2
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
