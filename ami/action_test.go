package ami

import (
	"errors"
	"strings"
	"testing"
)

func TestEncodeAction(t *testing.T) {
	got, err := encodeAction("Originate", "rp-1", []Header{{"Channel", "PJSIP/1001"}, {"Variable", "A=1"}, {"Variable", "B=2"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "Action: Originate\r\nActionID: rp-1\r\nChannel: PJSIP/1001\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n"
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestValidateAction(t *testing.T) {
	many := make([]Header, MaxActionHeaders-1)
	for i := range many {
		many[i] = Header{"Variable", "x=1"}
	}
	tests := []struct {
		name    string
		action  string
		headers []Header
		ok      bool
	}{
		{"ok", "Status", []Header{{"Channel", "PJSIP/1001-00000001"}}, true},
		{"empty value ok", "Status", []Header{{"Channel", ""}}, true},
		{"max headers ok", "Status", many[:MaxActionHeaders-2], true},
		{"max line ok", "Setvar", []Header{{"Value", strings.Repeat("v", MaxLineLength-len("Value: \r\n"))}}, true},
		{"empty action", "", nil, false},
		{"CR in action", "Status\r", nil, false},
		{"LF in action", "Ping\nAction: Originate", nil, false},
		{"CR in value", "Setvar", []Header{{"Value", "a\rb"}}, false},
		{"CRLF in value", "Setvar", []Header{{"Value", "x\r\nAction: Originate"}}, false},
		{"LF in key", "Setvar", []Header{{"Va\nlue", "x"}}, false},
		{"colon in key", "Setvar", []Header{{"Va:lue", "x"}}, false},
		{"empty key", "Setvar", []Header{{"", "x"}}, false},
		{"blank key", "Setvar", []Header{{"  ", "x"}}, false},
		{"ActionID header", "Setvar", []Header{{"actionid", "x"}}, false},
		{"Action header", "Setvar", []Header{{"Action", "Originate"}}, false},
		{"too many headers", "Status", many, false},
		{"line too long", "Setvar", []Header{{"Value", strings.Repeat("v", MaxLineLength-len("Value: \r\n")+1)}}, false},
		{"action too long", strings.Repeat("A", MaxLineLength), nil, false},
	}
	for _, tt := range tests {
		err := validateAction(tt.action, tt.headers)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidAction) {
			t.Errorf("%s: %v does not wrap ErrInvalidAction", tt.name, err)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("%s: error text contains CR or LF: %q", tt.name, err)
		}
	}
}
