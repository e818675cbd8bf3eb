package rules

import "testing"

func TestShapes(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) bool
		ok   []string
		bad  []string
	}{
		{"slug", isSlug, []string{"greffe", "communications-ti", "a_1"}, []string{"", "Greffe", "1a", "-a", "a b", "é"}},
		{"endpoint", isEndpoint, []string{"235", "carrier", "fin-236", "trunk.1+a_b"}, []string{"", "-a", "a b", "a/b", "a,b"}},
		{"user", isUser, []string{"dferland", "d.ferland@mercier.ca"}, []string{"", "@x", "a b"}},
		{"sound", isSound, []string{"recpolicy/avis-enregistrement", "beep"}, []string{"", "/abs", "a//b", "a/", "a.wav", "../x"}},
		{"language", isLanguage, []string{"fr", "fr_CA", "eng"}, []string{"", "f", "FR", "fr_ca", "fr-CA", "french", "fr_CAN"}},
		{"number", isNumber, []string{"899", "+15145550100"}, []string{"", "+", "89a", "++1", "1 2"}},
	}
	for _, tt := range tests {
		for _, s := range tt.ok {
			if !tt.fn(s) {
				t.Errorf("%s: %q rejected", tt.name, s)
			}
		}
		for _, s := range tt.bad {
			if tt.fn(s) {
				t.Errorf("%s: %q accepted", tt.name, s)
			}
		}
	}
}
