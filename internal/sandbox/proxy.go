package sandbox

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards TCP connections to one address, and can cut them the way a
// network fault or a restarted firewall does, while the server behind it
// stays up. Tests put it between the daemon and the PBX's AMI or ARI.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	pairs    map[*pair]struct{}
	refusing bool
	closed   bool
	delay    time.Duration // added to what the client sends (new connections)
	// cutReply, when armed (CutReply), is the pattern of the request whose
	// reply is cut, and cutDone is closed once it is.
	cutReply []byte
	cutDone  chan struct{}
	cutDrop  bool        // the request itself is lost, not only its reply (CutRequest)
	armed    atomic.Bool // cutReply is set: requests look for it
	wg       sync.WaitGroup
}

// pair is one proxied connection: the client's side and the server's.
// cutting, once set (a request matched CutReply's pattern), cuts both
// sides when the server's next bytes come, closing done.
type pair struct {
	client, server net.Conn
	cutting        atomic.Bool
	done           chan struct{}
}

func (p *pair) close() {
	_ = p.client.Close()
	_ = p.server.Close()
}

// NewProxy listens on a free loopback port and forwards to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, pairs: make(map[*pair]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		refusing := p.refusing || p.closed
		p.mu.Unlock()
		if refusing {
			_ = c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		pr := &pair{client: c, server: s}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			pr.close()
			return
		}
		p.pairs[pr] = struct{}{}
		delay := p.delay
		p.mu.Unlock()
		p.wg.Add(2)
		if delay > 0 {
			go p.delayedPipe(pr, s, c, delay)
		} else {
			go p.requests(pr)
		}
		go p.replies(pr)
	}
}

// requests copies what the client sends to the server. A chunk that holds
// the armed CutReply pattern is sent on, and its reply cut (replies); one
// that holds CutRequest's is not sent, and the pair is cut at once.
func (p *Proxy) requests(pr *pair) {
	p.copyChunks(pr, pr.server, pr.client, func(b []byte) bool {
		if !p.armed.Load() {
			return true
		}
		p.mu.Lock()
		if p.cutReply == nil || !bytes.Contains(b, p.cutReply) {
			p.mu.Unlock()
			return true
		}
		done, drop := p.cutDone, p.cutDrop
		p.cutReply, p.cutDone, p.cutDrop = nil, nil, false
		p.armed.Store(false)
		if !drop {
			pr.done = done
			pr.cutting.Store(true)
		}
		p.mu.Unlock()
		if drop {
			p.end(pr)
			close(done)
			return false
		}
		return true
	})
}

// replies copies what the server sends to the client, but cuts the pair,
// forwarding nothing, once a request of it matched CutReply's pattern.
func (p *Proxy) replies(pr *pair) {
	p.copyChunks(pr, pr.client, pr.server, func([]byte) bool {
		if !pr.cutting.Load() {
			return true
		}
		p.end(pr)
		close(pr.done)
		return false
	})
}

// copyChunks copies src to dst chunk by chunk; each chunk goes to pass
// first, which may end the copy instead (false: the chunk is not sent).
// When either side ends, both are closed.
func (p *Proxy) copyChunks(pr *pair, dst, src net.Conn, pass func([]byte) bool) {
	defer p.wg.Done()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !pass(buf[:n]) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break // io.EOF or a closed connection: the pair is over either way
		}
	}
	p.end(pr)
}

// end closes both sides of pr and forgets it.
func (p *Proxy) end(pr *pair) {
	pr.close()
	p.mu.Lock()
	delete(p.pairs, pr)
	p.mu.Unlock()
}

// CutReply arms the proxy once: the next request whose bytes hold pattern
// reaches the server, which carries it out, and its connection is cut
// when the server's reply comes, before the client sees any of it (a
// request whose answer the network lost). The returned channel is closed
// once that happened. The pattern must arrive in one read (an HTTP
// request line does); connections that delay what the client sends
// (SetDelay) do not look for it.
func (p *Proxy) CutReply(pattern string) <-chan struct{} { return p.arm(pattern, false) }

// CutRequest arms the proxy once: the next request whose bytes hold
// pattern is lost on the way (with whatever else came in the same read)
// and its connection cut at once: a request the client wrote and the
// server never read. The returned channel is closed once that happened.
// The pattern must arrive in one read, as for CutReply.
func (p *Proxy) CutRequest(pattern string) <-chan struct{} { return p.arm(pattern, true) }

// arm arms CutReply (drop false) or CutRequest (drop true).
func (p *Proxy) arm(pattern string, drop bool) <-chan struct{} {
	done := make(chan struct{})
	p.mu.Lock()
	p.cutReply, p.cutDone, p.cutDrop = []byte(pattern), done, drop
	p.armed.Store(true)
	p.mu.Unlock()
	return done
}

// Disarm withdraws a CutReply or CutRequest that no request matched yet.
func (p *Proxy) Disarm() {
	p.mu.Lock()
	p.cutReply, p.cutDone, p.cutDrop = nil, nil, false
	p.armed.Store(false)
	p.mu.Unlock()
}

// delayedPipe copies one direction, each chunk delivered delay after it
// was read: a server slow to take requests in (a loaded PBX), with requests
// still pipelined.
func (p *Proxy) delayedPipe(pr *pair, dst, src net.Conn, delay time.Duration) {
	defer p.wg.Done()
	type chunk struct {
		b  []byte
		at time.Time
	}
	q := make(chan chunk, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range q {
			time.Sleep(time.Until(c.at.Add(delay)))
			if _, err := dst.Write(c.b); err != nil {
				pr.close()
				for range q {
				}
				return
			}
		}
	}()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			q <- chunk{append([]byte(nil), buf[:n]...), time.Now()}
		}
		if err != nil {
			break
		}
	}
	close(q)
	<-done
	p.end(pr)
}

// SetDelay makes the connections accepted from now on deliver what the
// client sends d late (0: at once).
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Drop cuts every open connection (both sides) and returns how many there
// were. New connections are accepted as before unless Refuse is on.
func (p *Proxy) Drop() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.pairs)
	for pr := range p.pairs {
		pr.close()
	}
	return n
}

// Refuse, while on, closes every new connection at once (the server looks
// unreachable); existing connections are left alone.
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refusing = on
	p.mu.Unlock()
}

// Open is how many connections pass through the proxy now.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

// Close stops listening, cuts every connection and waits for the proxy's
// goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for pr := range p.pairs {
		pr.close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
