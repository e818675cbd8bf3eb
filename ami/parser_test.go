package ami

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// parseAll returns every message of data and the terminal error.
func parseAll(t testing.TB, r io.Reader) ([]*Message, error) {
	t.Helper()
	p := NewParser(r)
	var out []*Message
	for {
		m, err := p.Next()
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

func TestParser(t *testing.T) {
	type hdrs = []Header
	tests := []struct {
		name string
		in   string
		want []hdrs
		err  error
	}{
		{
			name: "crlf",
			in:   "Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n",
			want: []hdrs{{{"Response", "Success"}, {"ActionID", "1"}, {"Message", "Authentication accepted"}}},
			err:  io.EOF,
		},
		{
			name: "lf only",
			in:   "Event: Hangup\nCause: 16\n\nEvent: Reload\nModule: All\n\n",
			want: []hdrs{{{"Event", "Hangup"}, {"Cause", "16"}}, {{"Event", "Reload"}, {"Module", "All"}}},
			err:  io.EOF,
		},
		{
			name: "mixed line endings",
			in:   "Event: A\r\nX: 1\n\r\nEvent: B\n\n",
			want: []hdrs{{{"Event", "A"}, {"X", "1"}}, {{"Event", "B"}}},
			err:  io.EOF,
		},
		{
			name: "first colon split",
			in: "Event: CDR\r\nStartTime: 2026-11-28 05:05:15\r\nChannel: PJSIP/sip:alice@example.com:5060-00000001\r\n" +
				"DialString: PJSIP/1001/sip:1001@10.0.0.7:5060;transport=udp\r\nNoSpace:value\r\nSpaced:   padded \t \r\nEmpty:\r\n\r\n",
			want: []hdrs{{
				{"Event", "CDR"},
				{"StartTime", "2026-11-28 05:05:15"},
				{"Channel", "PJSIP/sip:alice@example.com:5060-00000001"},
				{"DialString", "PJSIP/1001/sip:1001@10.0.0.7:5060;transport=udp"},
				{"NoSpace", "value"},
				{"Spaced", "padded"},
				{"Empty", ""},
			}},
			err: io.EOF,
		},
		{
			name: "line without colon kept",
			in:   "Response: Success\r\nsome free text\r\nMessage: ok\r\n\r\n",
			want: []hdrs{{{"Response", "Success"}, {"some free text", ""}, {"Message", "ok"}}},
			err:  io.EOF,
		},
		{
			name: "repeated keys kept in order",
			in:   "Event: Newchannel\r\nChanVariable: a=1\r\nChanVariable: b=2\r\nChanVariable: c=3\r\n\r\n",
			want: []hdrs{{{"Event", "Newchannel"}, {"ChanVariable", "a=1"}, {"ChanVariable", "b=2"}, {"ChanVariable", "c=3"}}},
			err:  io.EOF,
		},
		{
			name: "blank lines between messages skipped",
			in:   "\r\n\r\nEvent: A\r\n\r\n\r\n\nEvent: B\r\n\r\n\r\n",
			want: []hdrs{{{"Event", "A"}}, {{"Event", "B"}}},
			err:  io.EOF,
		},
		{
			name: "banner skipped",
			in:   "Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nMessage: Authentication accepted\r\n\r\n",
			want: []hdrs{{{"Response", "Success"}, {"Message", "Authentication accepted"}}},
			err:  io.EOF,
		},
		{
			name: "banner prefix only matched",
			in:   "Asterisk Call Manager/99.1-custom\nEvent: A\n\n",
			want: []hdrs{{{"Event", "A"}}},
			err:  io.EOF,
		},
		{
			name: "banner only at stream start",
			in:   "Event: A\r\n\r\nAsterisk Call Manager/11.0.0\r\n\r\n",
			want: []hdrs{{{"Event", "A"}}, {{"Asterisk Call Manager/11.0.0", ""}}},
			err:  io.EOF,
		},
		{
			name: "truncated message",
			in:   "Event: A\r\n\r\nEvent: B\r\nX: 1\r\n",
			want: []hdrs{{{"Event", "A"}}},
			err:  io.ErrUnexpectedEOF,
		},
		{
			name: "truncated line",
			in:   "Event: A\r\n\r\nEvent: B",
			want: []hdrs{{{"Event", "A"}}},
			err:  io.ErrUnexpectedEOF,
		},
		{
			name: "empty",
			in:   "",
			err:  io.EOF,
		},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"data+EOF", iotest.DataErrReader},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				msgs, err := parseAll(t, rd.wrap(strings.NewReader(tt.in)))
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if len(msgs) != len(tt.want) {
					t.Fatalf("got %d messages, want %d", len(msgs), len(tt.want))
				}
				for i, m := range msgs {
					got := m.Headers()
					if len(got) != len(tt.want[i]) || m.Len() != len(tt.want[i]) {
						t.Fatalf("message %d: got %q, want %q", i, got, tt.want[i])
					}
					for j := range got {
						if got[j] != tt.want[i][j] {
							t.Errorf("message %d header %d: got %q, want %q", i, j, got[j], tt.want[i][j])
						}
					}
				}
			})
		}
	}
}

func TestParserBanner(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{"asterisk 22", "Asterisk Call Manager/11.0.0\r\n", "Asterisk Call Manager/11.0.0", false},
		{"other version", "Asterisk Call Manager/7.0.3\n", "Asterisk Call Manager/7.0.3", false},
		{"leading blank line", "\r\nAsterisk Call Manager/11.0.0\r\n", "Asterisk Call Manager/11.0.0", false},
		{"not ami", "SSH-2.0-OpenSSH_9.6\r\n", "", true},
		{"http", "HTTP/1.1 400 Bad Request\r\n\r\n", "", true},
		{"eof", "Asterisk Call", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewParser(iotest.OneByteReader(strings.NewReader(tt.in)))
			got, err := p.ReadBanner()
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ReadBanner() = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
			var pe *ProtocolError
			if tt.wantErr && tt.name != "eof" && !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ProtocolError", err)
			}
		})
	}
	p := NewParser(strings.NewReader("Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n\r\n"))
	if b, err := p.ReadBanner(); err != nil || b != "Asterisk Call Manager/11.0.0" {
		t.Fatalf("ReadBanner() = %q, %v", b, err)
	}
	m, err := p.Next()
	if err != nil || m.Get("Response") != "Success" {
		t.Fatalf("Next() after banner = %v, %v", m, err)
	}
	if p.Banner() != "Asterisk Call Manager/11.0.0" {
		t.Fatalf("Banner() = %q", p.Banner())
	}
}

func TestParserTooLong(t *testing.T) {
	big := "Event: X\r\nData: " + strings.Repeat("x", 300) + "\r\n\r\n"
	tests := []struct {
		name string
		in   string
		max  int
		ok   int // messages before the error
	}{
		{"long message", "Event: A\r\n\r\n" + big, 200, 1},
		{"endless line", "Event: A\r\n\r\nEvent: " + strings.Repeat("y", 5000), 1000, 1},
		{"endless message", "Event: A\r\n\r\n" + strings.Repeat("K: v\r\n", 1000), 1000, 1},
		{"fits", big, 400, 1},
	}
	for _, tt := range tests {
		for _, chunked := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.in)
			if chunked {
				r = iotest.OneByteReader(r)
			}
			p := NewParser(r)
			p.SetMaxMessageSize(tt.max)
			n := 0
			var err error
			for {
				var m *Message
				if m, err = p.Next(); err != nil {
					break
				}
				n++
				_ = m
			}
			if n != tt.ok {
				t.Errorf("%s (chunked %v): %d messages, want %d", tt.name, chunked, n, tt.ok)
			}
			var pe *ProtocolError
			if tt.name == "fits" {
				if err != io.EOF {
					t.Errorf("%s: err = %v, want EOF", tt.name, err)
				}
			} else if !errors.As(err, &pe) {
				t.Errorf("%s (chunked %v): err = %v, want *ProtocolError", tt.name, chunked, err)
			}
			if _, err2 := p.Next(); err2 != err {
				t.Errorf("%s: error not sticky: %v then %v", tt.name, err, err2)
			}
		}
	}
}

func TestParserLargeStream(t *testing.T) {
	// Many messages larger than the initial buffer exercise compaction and
	// growth.
	var b bytes.Buffer
	const n = 300
	for i := range n {
		b.WriteString("Event: Big\r\nIndex: ")
		b.WriteString(strings.Repeat("i", i))
		b.WriteString("\r\n")
		for range 50 + i%7 {
			b.WriteString("Output: ")
			b.WriteString(strings.Repeat("o", 100+i))
			b.WriteString("\r\n")
		}
		b.WriteString("\r\n")
	}
	msgs, err := parseAll(t, iotest.HalfReader(bytes.NewReader(b.Bytes())))
	if err != io.EOF || len(msgs) != n {
		t.Fatalf("got %d messages, err %v", len(msgs), err)
	}
	for i, m := range msgs {
		if got := len(m.Get("Index")); got != i {
			t.Fatalf("message %d: Index length %d", i, got)
		}
		if got := len(m.GetAll("output")); got != 50+i%7 {
			t.Fatalf("message %d: %d Output headers", i, got)
		}
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestParserReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("Event: A\r\n\r\nEvent: B\r\n"), errReader{boom})
	msgs, err := parseAll(t, r)
	if len(msgs) != 1 || !errors.Is(err, boom) {
		t.Fatalf("got %d messages, err %v; want 1, boom", len(msgs), err)
	}
	if _, err := parseAll(t, zeroReader{}); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("err = %v, want io.ErrNoProgress", err)
	}
}
