package sandbox

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// TestProxyCutReply: a request holding the armed pattern reaches the
// server, and its connection is cut before the client reads the reply;
// the requests before it, and the connections after it, pass.
func TestProxyCutReply(t *testing.T) {
	addr, got := echoServer(t)
	p, err := NewProxy(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ask := func(c net.Conn, r *bufio.Reader, line string) (string, error) {
		if _, err := c.Write([]byte(line + "\n")); err != nil {
			return "", err
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		return r.ReadString('\n')
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if reply, err := ask(c, r, "hello"); err != nil || reply != "ok hello\n" {
		t.Fatalf("before arming: %q, %v", reply, err)
	}
	<-got
	done := p.CutReply("POST /snoop")
	if reply, err := ask(c, r, "POST /snoop?x=1"); err == nil {
		t.Fatalf("the reply came through: %q", reply)
	}
	select {
	case line := <-got:
		if line != "POST /snoop?x=1" {
			t.Errorf("the server got %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request whose reply is cut did not reach the server")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("CutReply's channel not closed")
	}
	// Armed once: a new connection passes the same request; so does one
	// after a Disarm.
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	r2 := bufio.NewReader(c2)
	if reply, err := ask(c2, r2, "POST /snoop?x=2"); err != nil || reply != "ok POST /snoop?x=2\n" {
		t.Fatalf("after the cut: %q, %v", reply, err)
	}
	<-got
	p.CutReply("POST /snoop")
	p.Disarm()
	if reply, err := ask(c2, r2, "POST /snoop?x=3"); err != nil || reply != "ok POST /snoop?x=3\n" {
		t.Fatalf("after Disarm: %q, %v", reply, err)
	}
}

// echoServer serves, on a loopback port, connections whose every line it
// sends to got and answers "ok <line>"; it returns its address.
func echoServer(t *testing.T) (addr string, got chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got = make(chan string, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					got <- strings.TrimSpace(line)
					if _, err := c.Write([]byte("ok " + line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), got
}

// TestProxyCutRequest: a request holding the armed pattern never reaches
// the server, and its connection is cut at once; the connections after
// it pass the same request.
func TestProxyCutRequest(t *testing.T) {
	addr, got := echoServer(t)
	p, err := NewProxy(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := p.CutRequest("Action: StopMixMonitor")
	for i, want := range []bool{false, true} {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("Action: StopMixMonitor\n")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		reply, err := bufio.NewReader(c).ReadString('\n')
		if passed := err == nil; passed != want {
			t.Fatalf("connection %d: reply %q, %v; want it to pass %v", i, reply, err, want)
		}
		if !want {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("CutRequest's channel not closed")
			}
			select {
			case line := <-got:
				t.Fatalf("the server got %q, the lost request", line)
			default:
			}
		}
	}
}
