package ami

import (
	"bytes"
	"io"
	"testing"
)

// chunkReader returns data in chunks whose sizes come from splits, the last
// chunk together with io.EOF.
type chunkReader struct {
	data   []byte
	splits []byte
	i      int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(r.splits) > 0 {
		n = int(r.splits[r.i%len(r.splits)])%64 + 1
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	if len(r.data) == 0 {
		return n, io.EOF
	}
	return n, nil
}

type parsed struct {
	raw     []string
	headers [][]Header
	banner  string
	err     string
}

// fuzzParse parses everything from r with a small size limit, failing t if
// the parser does not make progress.
func fuzzParse(t *testing.T, r io.Reader, limit int) parsed {
	p := NewParser(r)
	p.SetMaxMessageSize(256)
	var out parsed
	for n := 0; ; n++ {
		if n > limit {
			t.Fatalf("more than %d messages from %d bytes: no progress", limit, limit)
		}
		m, err := p.Next()
		if err != nil {
			out.err = err.Error()
			out.banner = p.Banner()
			return out
		}
		out.raw = append(out.raw, m.String())
		out.headers = append(out.headers, m.Headers())
	}
}

func FuzzParser(f *testing.F) {
	seeds := []string{
		"",
		"\r\n",
		"\r\n\r\n",
		"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n",
		"Asterisk Call Manager/11.0.0\r\n",
		"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/1001-0000002a\r\nCallerIDName: Jean \\\"JJ\\\"\r\nChanVariable: a=1\r\nChanVariable: b=2\r\n\r\n",
		"Event: Cdr\nStartTime: 2026-11-28 05:05:15\nChannel: PJSIP/sip:a@b:5060\n\n",
		"Response: Success\r\nno colon line\r\n: empty key\r\nKey:\r\n   \r\n\r\n",
		"Event: A\r\n\r\nEvent: B\r\nX: 1",
		"Event: A\r\r\n\r\r\n\n",
		"\x00\xff:\xfe\r\n\n",
		"Response: Success\r\nActionID: 7\r\nEventList: start\r\n\r\nEvent: CoreShowChannel\r\nActionID: 7\r\n\r\nEvent: CoreShowChannelsComplete\r\nActionID: 7\r\nEventList: Complete\r\nListItems: 1\r\n\r\n",
		"Event: Big\r\nData: " + string(bytes.Repeat([]byte("x"), 300)) + "\r\n\r\n",
	}
	for i, s := range seeds {
		f.Add([]byte(s), []byte{byte(i), 3, 0, 17, 200})
	}
	f.Fuzz(func(t *testing.T, data, splits []byte) {
		limit := len(data)/2 + 2
		whole := fuzzParse(t, bytes.NewReader(data), limit)
		chunked := fuzzParse(t, &chunkReader{data: data, splits: splits}, limit)
		if whole.err != chunked.err || whole.banner != chunked.banner || len(whole.raw) != len(chunked.raw) {
			t.Fatalf("whole: %d messages, banner %q, err %q; chunked: %d messages, banner %q, err %q",
				len(whole.raw), whole.banner, whole.err, len(chunked.raw), chunked.banner, chunked.err)
		}
		for i := range whole.raw {
			if whole.raw[i] != chunked.raw[i] {
				t.Fatalf("message %d raw differs: %q vs %q", i, whole.raw[i], chunked.raw[i])
			}
			hw, hc := whole.headers[i], chunked.headers[i]
			if len(hw) == 0 || len(hw) != len(hc) {
				t.Fatalf("message %d: %d vs %d headers", i, len(hw), len(hc))
			}
			for j := range hw {
				if hw[j] != hc[j] {
					t.Fatalf("message %d header %d differs: %q vs %q", i, j, hw[j], hc[j])
				}
				if bytes.ContainsAny([]byte(hw[j].Key+hw[j].Value), "\n") || bytes.IndexByte([]byte(hw[j].Key), ':') >= 0 {
					t.Fatalf("message %d header %d: bad split %q", i, j, hw[j])
				}
			}
			checkLookups(t, whole.raw[i], hw)
		}
	})
}

// checkLookups re-parses raw and checks Get against a plain scan of headers.
func checkLookups(t *testing.T, raw string, hs []Header) {
	p := NewParser(bytes.NewReader([]byte(raw + "\n")))
	p.seenFirst = true // raw cannot start a stream with a banner here
	m, err := p.Next()
	if err != nil {
		t.Fatalf("re-parse of %q: %v", raw, err)
	}
	for _, h := range hs {
		want := ""
		for _, h2 := range hs {
			if len(h2.Key) == len(h.Key) && equalFoldASCII([]byte(h2.Key), h.Key) {
				want = h2.Value
				break
			}
		}
		if got, ok := m.Lookup(h.Key); !ok || got != want {
			t.Fatalf("Lookup(%q) = %q, %v; want %q", h.Key, got, ok, want)
		}
	}
}
