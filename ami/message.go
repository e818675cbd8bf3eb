package ami

import (
	"unsafe"
)

// Header is one Key: Value line.
type Header struct{ Key, Value string }

// span locates one header inside the message text: key is text[ks:ke],
// value is text[vs:ve]. Offsets are relative to the start of the message.
type span struct{ ks, ke, vs, ve uint32 }

const spanSize = int(unsafe.Sizeof(span{}))

// Message is one AMI message (response or event). It is immutable after
// parse and safe for concurrent use by several goroutines.
//
// A Message owns one byte slice holding a copy of its raw text followed by
// the table of header positions; every string it returns aliases that
// slice, so accessors do not allocate (except Headers and GetAll, which
// allocate the returned slice). Parsing a message costs two allocations:
// this small struct and that slice.
type Message struct {
	raw   []byte // header lines with their terminators
	spans []span // positions in raw; shares raw's allocation
}

// newMessage copies text and spans into one allocation.
func newMessage(text []byte, spans []span) *Message {
	off := (len(text) + 3) &^ 3 // spans need 4-byte alignment
	size := off + len(spans)*spanSize
	if size == 0 {
		return &Message{}
	}
	// The allocation holds no pointers and is at least 4-byte aligned: its
	// size is a multiple of 4 and, having at least one 16-byte span, is
	// beyond the tiny allocator.
	b := make([]byte, size)
	copy(b, text)
	m := &Message{raw: b[:len(text):len(text)]}
	if len(spans) > 0 {
		m.spans = unsafe.Slice((*span)(unsafe.Pointer(&b[off])), len(spans))
		copy(m.spans, spans)
	}
	return m
}

// NewMessage builds a message from headers, as if it had been parsed. It is
// meant for tests of code that consumes messages. CR and LF in keys and
// values are replaced by spaces, and colons in keys by underscores, so that
// the result parses back to exactly the given headers (keys and values are
// trimmed of surrounding spaces and tabs, as the parser does).
func NewMessage(headers ...Header) *Message {
	size := 0
	for _, h := range headers {
		size += len(h.Key) + len(h.Value) + 4
	}
	raw := make([]byte, 0, size)
	spans := make([]span, 0, len(headers))
	for _, h := range headers {
		ls := len(raw)
		raw = appendSanitized(raw, h.Key, true)
		c := len(raw)
		raw = append(raw, ':', ' ')
		raw = appendSanitized(raw, h.Value, false)
		ce := len(raw)
		raw = append(raw, '\r', '\n')
		ks, ke := trimSpace(raw, ls, c)
		vs, ve := trimSpace(raw, c+1, ce)
		spans = append(spans, span{uint32(ks), uint32(ke), uint32(vs), uint32(ve)})
	}
	return newMessage(raw, spans)
}

func appendSanitized(dst []byte, s string, key bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r' || c == '\n':
			c = ' '
		case key && c == ':':
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// str returns raw[a:b] as a string aliasing raw.
func (m *Message) str(a, b uint32) string {
	if a >= b {
		return ""
	}
	return unsafe.String(&m.raw[a], int(b-a))
}

// keyIs reports whether the key of s equals key, ignoring ASCII case.
func (m *Message) keyIs(s *span, key string) bool {
	if int(s.ke-s.ks) != len(key) {
		return false
	}
	return equalFoldASCII(m.raw[s.ks:s.ke], key)
}

// equalFoldASCII reports whether b and s (same length) are equal under
// ASCII case folding.
func equalFoldASCII(b []byte, s string) bool {
	b = b[:len(s)]
	for i := 0; i < len(s); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 {
			return false
		}
		if c := x | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// Get returns the value of the first header named key (ASCII
// case-insensitive), or "" if there is none. The result aliases the
// message's bytes; it does not allocate.
func (m *Message) Get(key string) string {
	v, _ := m.Lookup(key)
	return v
}

// Lookup returns the value of the first header named key (ASCII
// case-insensitive) and whether such a header exists.
func (m *Message) Lookup(key string) (string, bool) {
	if m == nil {
		return "", false
	}
	for i := range m.spans {
		if s := &m.spans[i]; m.keyIs(s, key) {
			return m.str(s.vs, s.ve), true
		}
	}
	return "", false
}

// GetAll returns the values of every header named key (ASCII
// case-insensitive), in order; nil if there is none.
func (m *Message) GetAll(key string) []string {
	if m == nil {
		return nil
	}
	var out []string
	for i := range m.spans {
		if s := &m.spans[i]; m.keyIs(s, key) {
			out = append(out, m.str(s.vs, s.ve))
		}
	}
	return out
}

// Len returns the number of headers.
func (m *Message) Len() int {
	if m == nil {
		return 0
	}
	return len(m.spans)
}

// At returns header i, 0 <= i < Len(). It returns the zero Header when i is
// out of range.
func (m *Message) At(i int) Header {
	if m == nil || i < 0 || i >= len(m.spans) {
		return Header{}
	}
	s := &m.spans[i]
	return Header{Key: m.str(s.ks, s.ke), Value: m.str(s.vs, s.ve)}
}

// Headers returns every header in order. It allocates the slice; the strings
// alias the message.
func (m *Message) Headers() []Header {
	if m == nil {
		return nil
	}
	out := make([]Header, len(m.spans))
	for i := range out {
		out[i] = m.At(i)
	}
	return out
}

// Event returns the Event header ("" for a response).
func (m *Message) Event() string { return m.Get("Event") }

// ActionID returns the ActionID header.
func (m *Message) ActionID() string { return m.Get("ActionID") }

// IsResponse reports whether the message is a response to an action (its
// first header is Response), as opposed to an event. Note that some events,
// such as OriginateResponse, carry a Response header too.
func (m *Message) IsResponse() bool {
	return m.kind() == kindResponse
}

// IsEvent reports whether the message is an event.
func (m *Message) IsEvent() bool {
	return m.kind() == kindEvent
}

type msgKind int

const (
	kindOther msgKind = iota
	kindResponse
	kindEvent
)

// kind classifies the message by its first header, falling back to the
// presence of Event then Response.
func (m *Message) kind() msgKind {
	if m == nil || len(m.spans) == 0 {
		return kindOther
	}
	switch first := &m.spans[0]; {
	case m.keyIs(first, "Event"):
		return kindEvent
	case m.keyIs(first, "Response"):
		return kindResponse
	}
	if _, ok := m.Lookup("Event"); ok {
		return kindEvent
	}
	if _, ok := m.Lookup("Response"); ok {
		return kindResponse
	}
	return kindOther
}

// String returns the raw text of the message (header lines with their line
// terminators, without the blank terminating line), for logging. It aliases
// the message's bytes.
func (m *Message) String() string {
	if m == nil || len(m.raw) == 0 {
		return ""
	}
	return unsafe.String(&m.raw[0], len(m.raw))
}

// trimSpace returns [s, e) shrunk past leading and trailing spaces and tabs.
func trimSpace(b []byte, s, e int) (int, int) {
	for s < e && (b[s] == ' ' || b[s] == '\t') {
		s++
	}
	for e > s && (b[e-1] == ' ' || b[e-1] == '\t') {
		e--
	}
	return s, e
}
