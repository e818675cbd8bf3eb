package ami

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
)

const (
	// DefaultMaxMessageSize is the default limit on the size of one message
	// (its header lines, terminators included).
	DefaultMaxMessageSize = 1 << 20
	// maxMessageSizeLimit keeps offsets within uint32.
	maxMessageSizeLimit = 1 << 30

	// BannerPrefix starts the line Asterisk sends on connect, e.g.
	// "Asterisk Call Manager/11.0.0". Only the prefix is checked.
	BannerPrefix = "Asterisk Call Manager/"

	initialBufSize = 64 << 10
	minReadSize    = 4 << 10
	maxEmptyReads  = 100
)

// Parser reads AMI messages from a stream. It is incremental: messages may
// be split across reads at any byte. It accepts CRLF and bare LF line
// endings, splits each header on its first colon, trims spaces and tabs
// around keys and values, keeps lines without a colon as a header whose key
// is the line and whose value is empty, and skips blank lines between
// messages. If the first line of the stream starts with [BannerPrefix] it is
// taken as the banner, not as a header.
//
// A Parser is not safe for concurrent use.
type Parser struct {
	r   io.Reader
	buf []byte
	// buf[start:end] is unconsumed data: start is the beginning of the
	// message being parsed (or of unscanned data between messages), pos the
	// first byte not yet split into lines.
	start, pos, end int

	rerr error // error returned by r, acted on once buffered data is used
	err  error // sticky terminal error

	max       int
	inMsg     bool      // a message is being parsed
	spans     spanTable // its headers so far
	size      int       // bytes of its complete lines
	seenFirst bool      // the first non-blank line has been seen
	banner    string
}

// NewParser returns a parser reading from r with a 64 KiB buffer and a
// message size limit of [DefaultMaxMessageSize].
func NewParser(r io.Reader) *Parser {
	return &Parser{r: r, max: DefaultMaxMessageSize}
}

// SetMaxMessageSize sets the largest message accepted, in bytes; a larger
// one makes Next return a *ProtocolError. n <= 0 restores the default.
func (p *Parser) SetMaxMessageSize(n int) {
	switch {
	case n <= 0:
		n = DefaultMaxMessageSize
	case n > maxMessageSizeLimit:
		n = maxMessageSizeLimit
	}
	p.max = n
}

// Banner returns the banner line ("Asterisk Call Manager/11.0.0") if one
// was seen at the start of the stream, else "".
func (p *Parser) Banner() string { return p.banner }

// ReadBanner reads the first non-blank line of the stream and returns it if
// it starts with [BannerPrefix]; otherwise it returns a *ProtocolError and
// the parser is unusable. It must be called before Next; if the banner was
// already consumed by Next it is returned again.
func (p *Parser) ReadBanner() (string, error) {
	if p.seenFirst {
		if p.banner == "" {
			return "", &ProtocolError{Reason: "no banner at start of stream"}
		}
		return p.banner, nil
	}
	for {
		if p.err != nil {
			return "", p.err
		}
		if i := bytes.IndexByte(p.buf[p.pos:p.end], '\n'); i >= 0 {
			ls, nl := p.pos, p.pos+i
			p.pos = nl + 1
			ce := nl
			if ce > ls && p.buf[ce-1] == '\r' {
				ce--
			}
			p.start = p.pos
			if ce == ls {
				continue
			}
			p.seenFirst = true
			line := p.buf[ls:ce]
			if !hasBannerPrefix(line) {
				const show = 40
				if len(line) > show {
					line = line[:show]
				}
				p.err = &ProtocolError{Reason: fmt.Sprintf("unexpected banner %q", line)}
				return "", p.err
			}
			p.banner = string(line)
			return p.banner, nil
		}
		if p.end-p.pos > p.max {
			p.err = p.tooLong()
			return "", p.err
		}
		if p.rerr != nil {
			p.err = p.finalErr()
			return "", p.err
		}
		p.fill()
	}
}

func hasBannerPrefix(line []byte) bool {
	return len(line) >= len(BannerPrefix) && string(line[:len(BannerPrefix)]) == BannerPrefix
}

// Next returns the next message. It returns io.EOF when the stream ends
// cleanly between messages, io.ErrUnexpectedEOF when it ends inside a
// message, a *ProtocolError for input that is not AMI (a message over the
// size limit), or the reader's error. Errors are sticky.
func (p *Parser) Next() (*Message, error) {
	for {
		if p.err != nil {
			return nil, p.err
		}
		if m := p.scan(); m != nil {
			return m, nil
		}
		if p.err != nil {
			return nil, p.err
		}
		if p.rerr != nil {
			p.err = p.finalErr()
			return nil, p.err
		}
		p.fill()
	}
}

// SWAR constants: a byte-wise broadcast of 0x01, 0x80, ':' and '\n'.
const (
	swarLo    = 0x0101010101010101
	swarHi    = 0x8080808080808080
	swarColon = ':' * swarLo
	swarNL    = '\n' * swarLo
)

// zeroBytes has the high bit set in the lowest zero byte of x (and maybe in
// higher bytes, so only its lowest set bit is meaningful).
func zeroBytes(x uint64) uint64 { return (x - swarLo) &^ x & swarHi }

// scan splits the complete lines in the buffer and returns a message once
// its terminating blank line is seen. It returns nil when it needs more
// data (or sets p.err). It is the hot path: one pass over each line, eight
// bytes at a time, finds the first colon and the newline.
func (p *Parser) scan() *Message {
	buf := p.buf[:p.end]
	pos, size := p.pos, p.size
	// Compact positions are appended to a local slice (saved on return);
	// the rare wide ones go through p.spans.addWide.
	cs := p.spans.cs
	for {
		ls := pos
		colon, nl := -1, -1
		i := ls
		for ; i+8 <= len(buf); i += 8 {
			w := binary.LittleEndian.Uint64(buf[i:])
			mn := zeroBytes(w ^ swarNL)
			if colon < 0 {
				if mc := zeroBytes(w ^ swarColon); mc != 0 {
					c := bits.TrailingZeros64(mc)
					if mn == 0 || c < bits.TrailingZeros64(mn) {
						colon = i + c>>3
					}
				}
			}
			if mn != 0 {
				nl = i + bits.TrailingZeros64(mn)>>3
				break
			}
		}
		if nl < 0 {
			for ; i < len(buf); i++ {
				if c := buf[i]; c == '\n' {
					nl = i
					break
				} else if c == ':' && colon < 0 {
					colon = i
				}
			}
			if nl < 0 {
				p.pos, p.size, p.spans.cs = ls, size, cs
				// A partial line of two bytes or more cannot become a
				// blank line, so the message will be at least this long.
				if partial := len(buf) - ls; partial >= 2 && size+partial > p.max {
					p.err = p.tooLong()
				}
				return nil
			}
		}
		pos = nl + 1
		ce := nl
		if ce > ls && buf[ce-1] == '\r' {
			ce--
		}
		if ce == ls { // blank line
			if !p.inMsg {
				p.start = pos
				continue
			}
			m := newMessage(buf[p.start:ls], cs, p.spans.ws)
			p.spans.cs = cs[:0]
			p.spans.ws = nil
			p.inMsg = false
			p.pos, p.size, p.start = pos, 0, pos
			return m
		}
		size += pos - ls
		if size > p.max {
			p.pos, p.size, p.spans.cs = pos, size, cs
			p.err = p.tooLong()
			return nil
		}
		if !p.inMsg {
			if !p.seenFirst {
				p.seenFirst = true
				if hasBannerPrefix(buf[ls:ce]) {
					p.banner = string(buf[ls:ce])
					p.start = pos
					size = 0
					continue
				}
			}
			p.inMsg = true
			p.start = ls
			size = pos - ls
		}
		var ks, ke, vs, ve int
		if colon >= 0 && colon < ce {
			ks, ke = ls, colon
			// Spaces and tabs are below '!': one test each end spots them.
			if ks < ke && (buf[ks] <= ' ' || buf[ke-1] <= ' ') {
				ks, ke = trimSpace(buf, ks, ke)
			}
			vs, ve = colon+1, ce
			if vs < ve && buf[vs] == ' ' {
				vs++
			}
			if vs < ve && (buf[vs] <= ' ' || buf[ve-1] <= ' ') {
				vs, ve = trimSpace(buf, vs, ve)
			}
		} else {
			ks, ke = trimSpace(buf, ls, ce)
			vs, ve = ke, ke
		}
		base := p.start
		if kl, vg, vl := ke-ks, vs-ke, ve-vs; p.spans.ws == nil && (kl|vg) < 1<<8 && vl < 1<<16 {
			cs = append(cs, cspan{ks: uint32(ks - base), kl: uint8(kl), vg: uint8(vg), vl: uint16(vl)})
		} else {
			p.spans.cs = cs
			p.spans.addWide(uint32(ks-base), uint32(ke-base), uint32(vs-base), uint32(ve-base))
			cs = p.spans.cs
		}
	}
}

func (p *Parser) tooLong() error {
	return &ProtocolError{Reason: fmt.Sprintf("message exceeds %d bytes", p.max)}
}

// finalErr is the error to report once the reader failed and the buffer
// holds no further complete message.
func (p *Parser) finalErr() error {
	if p.rerr == io.EOF {
		if p.inMsg || p.pos < p.end {
			return io.ErrUnexpectedEOF
		}
		return io.EOF
	}
	return p.rerr
}

// fill reads more data into the buffer, compacting or growing it first.
func (p *Parser) fill() {
	if p.buf == nil {
		p.buf = make([]byte, initialBufSize)
	}
	if p.start == p.end {
		p.start, p.pos, p.end = 0, 0, 0
	}
	if len(p.buf)-p.end < minReadSize {
		if p.start > 0 {
			n := copy(p.buf, p.buf[p.start:p.end])
			p.pos -= p.start
			p.end = n
			p.start = 0
		}
		if len(p.buf)-p.end < minReadSize {
			nb := make([]byte, 2*len(p.buf))
			copy(nb, p.buf[:p.end])
			p.buf = nb
		}
	}
	for range maxEmptyReads {
		n, err := p.r.Read(p.buf[p.end:])
		if n < 0 || n > len(p.buf)-p.end {
			p.rerr = fmt.Errorf("ami: reader returned invalid count %d", n)
			return
		}
		p.end += n
		if err != nil {
			p.rerr = err
			return
		}
		if n > 0 {
			return
		}
	}
	p.rerr = io.ErrNoProgress
}
