package ami

import (
	"unsafe"
)

// Header is one Key: Value line.
type Header struct{ Key, Value string }

// span locates one header inside the message text: key is text[ks:ke],
// value is text[vs:ve]. Offsets are relative to the start of the message.
// The parser produces spans; messages store them compacted when they fit.
type span struct{ ks, ke, vs, ve uint32 }

// cspan is the compact form of a span: key at ks, kl bytes long; value vg
// bytes after the key's end, vl bytes long. Every header of real AMI traffic
// fits; a message with a key over 255 bytes, a value over 65535 bytes or
// more than 255 bytes between them keeps full spans instead.
type cspan struct {
	ks uint32
	kl uint8
	vg uint8
	vl uint16
}

const (
	spanSize  = int(unsafe.Sizeof(span{}))
	cspanSize = int(unsafe.Sizeof(cspan{}))
)

// Message is one AMI message (response or event). It is immutable after
// parse and safe for concurrent use by several goroutines.
//
// A Message owns one byte slice holding a copy of its raw text followed by
// the table of header positions; every string it returns aliases that
// slice, so accessors do not allocate (except Headers and GetAll, which
// allocate the returned slice). Parsing a message costs two allocations:
// this small struct and that slice, whatever the number of headers.
//
// Because returned strings alias the message, keeping one (say, a Uniqueid
// as a map key for the life of a call) keeps the whole message's memory,
// about 1 KiB for a call event: use strings.Clone for such long-lived keys.
type Message struct {
	raw   []byte  // header lines with their terminators
	spans []cspan // positions in raw, sharing raw's allocation...
	wide  []span  // ...or these, when a header does not fit a cspan
}

// newMessage copies text and the header positions into one allocation.
// Exactly one of cs (compact) and ws (wide) is used: ws if it is not nil.
func newMessage(text []byte, cs []cspan, ws []span) *Message {
	off := (len(text) + 3) &^ 3 // the position table needs 4-byte alignment
	var size int
	switch {
	case ws != nil:
		size = off + len(ws)*spanSize
	case len(cs) > 0:
		size = off + len(cs)*cspanSize
	default:
		size = len(text)
	}
	// The allocation holds no pointers. With at least one position its size
	// is a multiple of 4 and at least 8: the allocator aligns it to 4 or
	// more.
	b := make([]byte, size)
	copy(b, text)
	m := &Message{raw: b[:len(text):len(text)]}
	switch {
	case ws != nil:
		m.wide = unsafe.Slice((*span)(unsafe.Pointer(&b[off])), len(ws))
		copy(m.wide, ws)
	case len(cs) > 0:
		m.spans = unsafe.Slice((*cspan)(unsafe.Pointer(&b[off])), len(cs))
		copy(m.spans, cs)
	}
	return m
}

// spanTable accumulates the header positions of a message, compact while
// they fit.
type spanTable struct {
	cs []cspan
	ws []span // non-nil once a header did not fit a cspan
}

// add appends the position of one header.
func (t *spanTable) add(ks, ke, vs, ve uint32) {
	if t.ws == nil && ((ke-ks)|(vs-ke)) < 1<<8 && ve-vs < 1<<16 {
		t.cs = append(t.cs, cspan{ks: ks, kl: uint8(ke - ks), vg: uint8(vs - ke), vl: uint16(ve - vs)})
		return
	}
	t.addWide(ks, ke, vs, ve)
}

// addWide appends a position in the wide table, moving the compact
// positions there first.
func (t *spanTable) addWide(ks, ke, vs, ve uint32) {
	if t.ws == nil {
		t.ws = make([]span, 0, len(t.cs)+8)
		for _, c := range t.cs {
			k := c.ks + uint32(c.kl)
			v := k + uint32(c.vg)
			t.ws = append(t.ws, span{c.ks, k, v, v + uint32(c.vl)})
		}
	}
	t.ws = append(t.ws, span{ks, ke, vs, ve})
	t.cs = t.cs[:0]
}

// message builds the message of text and resets the table.
func (t *spanTable) message(text []byte) *Message {
	m := newMessage(text, t.cs, t.ws)
	t.cs = t.cs[:0]
	t.ws = nil
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
	var t spanTable
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
		t.add(uint32(ks), uint32(ke), uint32(vs), uint32(ve))
	}
	return t.message(raw)
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

// pos returns the span of header i, 0 <= i < Len().
func (m *Message) pos(i int) span {
	if m.wide != nil {
		return m.wide[i]
	}
	c := &m.spans[i]
	ke := c.ks + uint32(c.kl)
	vs := ke + uint32(c.vg)
	return span{c.ks, ke, vs, vs + uint32(c.vl)}
}

// keyIs reports whether raw[ks:ke] equals key, ignoring ASCII case.
func (m *Message) keyIs(ks, ke uint32, key string) bool {
	if int(ke-ks) != len(key) {
		return false
	}
	return equalFoldASCII(m.raw[ks:ke], key)
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
		c := &m.spans[i]
		if int(c.kl) != len(key) || !equalFoldASCII(m.raw[c.ks:c.ks+uint32(c.kl)], key) {
			continue
		}
		vs := c.ks + uint32(c.kl) + uint32(c.vg)
		return m.str(vs, vs+uint32(c.vl)), true
	}
	for i := range m.wide {
		if s := &m.wide[i]; m.keyIs(s.ks, s.ke, key) {
			return m.str(s.vs, s.ve), true
		}
	}
	return "", false
}

// GetAll returns the values of every header named key (ASCII
// case-insensitive), in order; nil if there is none.
func (m *Message) GetAll(key string) []string {
	var out []string
	for i := range m.Len() {
		if s := m.pos(i); m.keyIs(s.ks, s.ke, key) {
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
	return len(m.spans) + len(m.wide)
}

// At returns header i, 0 <= i < Len(). It returns the zero Header when i is
// out of range.
func (m *Message) At(i int) Header {
	if i < 0 || i >= m.Len() {
		return Header{}
	}
	s := m.pos(i)
	return Header{Key: m.str(s.ks, s.ke), Value: m.str(s.vs, s.ve)}
}

// Headers returns every header in order. It allocates the slice; the strings
// alias the message.
func (m *Message) Headers() []Header {
	if m == nil {
		return nil
	}
	out := make([]Header, m.Len())
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
	if m.Len() == 0 {
		return kindOther
	}
	switch first := m.pos(0); {
	case m.keyIs(first.ks, first.ke, "Event"):
		return kindEvent
	case m.keyIs(first.ks, first.ke, "Response"):
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
