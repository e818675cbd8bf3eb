package ami

import "testing"

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{`Jean \"JJ\" Dupont`, `Jean "JJ" Dupont`},
		{`back\\slash`, `back\slash`},
		{`a\nb\tc\rd`, "a\nb\tc\rd"},
		{`\a\b\f\v\'\?`, "\a\b\f\v'?"},
		{`\x41\x62\x7E`, "Ab~"},
		{`caf\xc3\xa9`, "café"},
		{`\xZZ`, `\xZZ`},
		{`\x4`, `\x4`},
		{`\x`, `\x`},
		{`unknown \q escape`, `unknown \q escape`},
		{`trailing\`, `trailing\`},
		{`\\x41`, `\x41`},
	}
	for _, tt := range tests {
		if got := Unescape(tt.in); got != tt.want {
			t.Errorf("Unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
