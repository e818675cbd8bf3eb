package ami

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestMessageGet(t *testing.T) {
	m := NewMessage(
		Header{"Event", "Newchannel"},
		Header{"Channel", "PJSIP/1001-0000002a"},
		Header{"ChanVariable", "CDR(recordingfile)=a.wav"},
		Header{"ChanVariable", "MIXMON=1"},
		Header{"Empty", ""},
	)
	tests := []struct {
		key    string
		want   string
		wantOK bool
	}{
		{"Event", "Newchannel", true},
		{"event", "Newchannel", true},
		{"EVENT", "Newchannel", true},
		{"eVeNt", "Newchannel", true},
		{"chanvariable", "CDR(recordingfile)=a.wav", true},
		{"Empty", "", true},
		{"Missing", "", false},
		{"Even", "", false},
		{"Events", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := m.Lookup(tt.key)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.wantOK)
		}
		if g := m.Get(tt.key); g != tt.want {
			t.Errorf("Get(%q) = %q", tt.key, g)
		}
	}
	if got := m.GetAll("CHANVARIABLE"); fmt.Sprint(got) != "[CDR(recordingfile)=a.wav MIXMON=1]" {
		t.Errorf("GetAll = %q", got)
	}
	if got := m.GetAll("nope"); got != nil {
		t.Errorf("GetAll(nope) = %q", got)
	}
	if m.Event() != "Newchannel" || m.Len() != 5 || !m.IsEvent() || m.IsResponse() {
		t.Errorf("Event/Len/IsEvent wrong: %q %d", m.Event(), m.Len())
	}
	if !strings.HasPrefix(m.String(), "Event: Newchannel\r\nChannel: PJSIP/1001-0000002a\r\n") {
		t.Errorf("String() = %q", m.String())
	}
	// Keys differing only in non-letters must not fold together.
	m2 := NewMessage(Header{"A@", "1"}, Header{"A`", "2"}, Header{"[x", "3"})
	if m2.Get("a`") != "2" || m2.Get("A@") != "1" || m2.Get("{x") != "" {
		t.Errorf("ASCII folding wrong: %q %q %q", m2.Get("a`"), m2.Get("A@"), m2.Get("{x"))
	}
	var nilMsg *Message
	if nilMsg.Get("x") != "" || nilMsg.Len() != 0 || nilMsg.Headers() != nil || nilMsg.String() != "" {
		t.Error("nil message accessors")
	}
}

func TestMessageManyHeaders(t *testing.T) {
	var hs []Header
	for i := range 120 {
		hs = append(hs, Header{fmt.Sprintf("Key%d", i), fmt.Sprintf("value %d", i)})
	}
	hs = append(hs, Header{"Key5", "again"})
	m := NewMessage(hs...)
	if m.Len() != len(hs) {
		t.Fatalf("Len = %d", m.Len())
	}
	for i, h := range hs[:len(hs)-1] {
		if got := m.Get(strings.ToLower(h.Key)); got != h.Value {
			t.Fatalf("Get(%s) = %q", h.Key, got)
		}
		if got := m.At(i); got != h {
			t.Fatalf("At(%d) = %q", i, got)
		}
	}
	if got := m.GetAll("key5"); len(got) != 2 || got[1] != "again" {
		t.Fatalf("GetAll = %q", got)
	}
	if got := m.Headers(); len(got) != len(hs) || got[len(got)-1] != (Header{"Key5", "again"}) {
		t.Fatalf("Headers tail = %q", got[len(got)-1])
	}
	if m.At(-1) != (Header{}) || m.At(len(hs)) != (Header{}) {
		t.Fatal("At out of range")
	}
}

func TestNewMessageSanitizes(t *testing.T) {
	m := NewMessage(Header{"Bad:Key", "line1\r\nAction: Originate"}, Header{" Padded ", " v "})
	want := []Header{{"Bad_Key", "line1  Action: Originate"}, {"Padded", "v"}}
	got := m.Headers()
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Headers = %q, want %q", got, want)
	}
	// And the raw form parses back to the same headers.
	p := NewParser(strings.NewReader(m.String() + "\r\n"))
	m2, err := p.Next()
	if err != nil || fmt.Sprint(m2.Headers()) != fmt.Sprint(want) {
		t.Fatalf("reparse = %q, %v", m2.Headers(), err)
	}
}

func TestMessageKind(t *testing.T) {
	tests := []struct {
		m    *Message
		want msgKind
	}{
		{NewMessage(Header{"Response", "Success"}, Header{"ActionID", "1"}), kindResponse},
		{NewMessage(Header{"Event", "OriginateResponse"}, Header{"Response", "Failure"}), kindEvent},
		{NewMessage(Header{"ActionID", "1"}, Header{"Response", "Error"}), kindResponse},
		{NewMessage(Header{"Privilege", "x"}, Header{"Event", "X"}, Header{"Response", "y"}), kindEvent},
		{NewMessage(Header{"Foo", "bar"}), kindOther},
		{NewMessage(), kindOther},
	}
	for i, tt := range tests {
		if got := tt.m.kind(); got != tt.want {
			t.Errorf("%d: kind = %v, want %v", i, got, tt.want)
		}
	}
}

func TestMessageWideHeaders(t *testing.T) {
	longKey := strings.Repeat("K", 300)
	longValue := strings.Repeat("v", 70000)
	gap := strings.Repeat(" ", 300)
	in := "Event: Wide\r\n" + longKey + ": k\r\nData: " + longValue + "\r\nGap:" + gap + "x\r\nLast: 1\r\n\r\n"
	tests := []struct {
		name string
		in   string
		want []Header
	}{
		{"mixed", in, []Header{{"Event", "Wide"}, {longKey, "k"}, {"Data", longValue}, {"Gap", "x"}, {"Last", "1"}}},
		{"first header wide", longKey + ": a\r\nB: b\r\n\r\n", []Header{{longKey, "a"}, {"B", "b"}}},
	}
	for _, tt := range tests {
		for _, chunked := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.in)
			if chunked {
				r = iotest.HalfReader(r)
			}
			m, err := NewParser(r).Next()
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if m.Len() != len(tt.want) {
				t.Fatalf("%s: Len = %d", tt.name, m.Len())
			}
			for i, h := range tt.want {
				if got := m.At(i); got != h {
					t.Errorf("%s: At(%d) = %.40q", tt.name, i, got)
				}
				if got := m.Get(strings.ToLower(h.Key)); got != h.Value {
					t.Errorf("%s: Get(%.20s) = %.40q", tt.name, h.Key, got)
				}
			}
			if m.String()+"\r\n" != tt.in {
				t.Errorf("%s: String() differs", tt.name)
			}
		}
	}
	// NewMessage takes the same path.
	m := NewMessage(Header{"A", "1"}, Header{"Data", longValue})
	if m.Get("data") != longValue || m.Get("a") != "1" {
		t.Fatal("NewMessage wide")
	}
}
