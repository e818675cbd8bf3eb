package rules

import "strings"

// The shapes of the identifiers of a rules file.

// isSlug: a department id or retention class, e.g. "communications-ti":
// lower-case letters, digits, "-" and "_", starting with a letter.
func isSlug(s string) bool {
	return s != "" && isLower(s[0]) && every(s, func(c byte) bool {
		return isLower(c) || isDigit(c) || c == '-' || c == '_'
	})
}

// isEndpoint: a PJSIP endpoint name, e.g. "235" or "carrier": letters,
// digits, ".", "_", "+" and "-", starting with a letter or digit.
func isEndpoint(s string) bool {
	return s != "" && isAlnum(s[0]) && every(s, func(c byte) bool {
		return isAlnum(c) || strings.IndexByte("._+-", c) >= 0
	})
}

// isUser: a user name, e.g. "dferland" or "d.ferland@mercier.ca".
func isUser(s string) bool {
	return s != "" && isAlnum(s[0]) && every(s, func(c byte) bool {
		return isAlnum(c) || strings.IndexByte("._@-", c) >= 0
	})
}

// isSound: an Asterisk sound name, e.g. "recpolicy/avis-enregistrement":
// words of letters, digits, "_" and "-" separated by single "/".
func isSound(s string) bool {
	for _, word := range strings.Split(s, "/") {
		if word == "" || !every(word, func(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }) {
			return false
		}
	}
	return true
}

// isLanguage: an Asterisk language code, e.g. "fr" or "fr_CA".
func isLanguage(s string) bool {
	lang, region, hasRegion := strings.Cut(s, "_")
	if len(lang) < 2 || len(lang) > 3 || !every(lang, isLower) {
		return false
	}
	return !hasRegion || len(region) == 2 && every(region, isUpper)
}

// isNumber: a phone number, e.g. "899" or "+15145550100".
func isNumber(s string) bool {
	return allDigits(strings.TrimPrefix(s, "+"))
}

func every(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isLower(c) || isUpper(c) || isDigit(c) }
