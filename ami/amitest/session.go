package amitest

import (
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/villedemercier/recpolicy/ami"
)

// Session is one client connection to the Server.
type Session struct {
	srv      *Server
	conn     net.Conn
	wmu      sync.Mutex
	loggedIn atomic.Bool
	eventsOn atomic.Bool
	fmu      sync.Mutex
	filters  []*regexp.Regexp // from the Filter action; none passes everything
}

// passes reports whether an event's text matches one of the session's
// filters, or the session has none.
func (s *Session) passes(raw string) bool {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if len(s.filters) == 0 {
		return true
	}
	for _, re := range s.filters {
		if re.MatchString(raw) {
			return true
		}
	}
	return false
}

// WriteRaw writes raw bytes to the client.
func (s *Session) WriteRaw(raw string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	_, err := s.conn.Write([]byte(raw))
	return err
}

// Reply answers action with "Response: <response>", the action's ActionID
// and headers.
func (s *Session) Reply(action *ami.Message, response string, headers ...ami.Header) error {
	hs := make([]ami.Header, 0, len(headers)+1)
	if id, ok := action.Lookup("ActionID"); ok {
		hs = append(hs, ami.Header{Key: "ActionID", Value: id})
	}
	hs = append(hs, headers...)
	return s.WriteRaw(string(Format(ami.Header{Key: "Response", Value: response}, hs...)))
}

// Event sends an event to this session only (whatever its Events setting,
// as Asterisk does for list items).
func (s *Session) Event(event string, headers ...ami.Header) error {
	return s.WriteRaw(string(Format(ami.Header{Key: "Event", Value: event}, headers...)))
}

// ReplyList answers a list action as Asterisk does: "Response: Success"
// with "EventList: start", one itemEvent per element of items, then
// completeEvent with "EventList: Complete" and "ListItems", all carrying the
// action's ActionID.
func (s *Session) ReplyList(action *ami.Message, itemEvent string, items [][]ami.Header, completeEvent string) error {
	id := action.Get("ActionID")
	var b []byte
	b = append(b, Format(ami.Header{Key: "Response", Value: "Success"},
		ami.Header{Key: "ActionID", Value: id},
		ami.Header{Key: "EventList", Value: "start"},
		ami.Header{Key: "Message", Value: "Items will follow"})...)
	for _, it := range items {
		hs := append([]ami.Header{{Key: "ActionID", Value: id}}, it...)
		b = append(b, Format(ami.Header{Key: "Event", Value: itemEvent}, hs...)...)
	}
	b = append(b, Format(ami.Header{Key: "Event", Value: completeEvent},
		ami.Header{Key: "ActionID", Value: id},
		ami.Header{Key: "EventList", Value: "Complete"},
		ami.Header{Key: "ListItems", Value: itoa(int64(len(items)))})...)
	return s.WriteRaw(string(b))
}

// Close closes the connection.
func (s *Session) Close() error { return s.conn.Close() }

// serve reads actions until the connection ends.
func (s *Session) serve() {
	defer s.srv.wg.Done()
	defer s.srv.remove(s)
	defer s.conn.Close()
	if err := s.WriteRaw(s.srv.cfg.Banner + "\r\n"); err != nil {
		return
	}
	p := ami.NewParser(s.conn)
	for {
		m, err := p.Next()
		if err != nil {
			return
		}
		action := m.Get("Action")
		s.srv.count(action)
		if !s.handle(strings.ToLower(action), m) {
			return
		}
	}
}

// handle answers one action; false ends the session.
func (s *Session) handle(action string, m *ami.Message) bool {
	srv := s.srv
	switch {
	case action == "login":
		return s.login(m)
	case action == "logoff":
		_ = s.Reply(m, "Goodbye", ami.Header{Key: "Message", Value: "Thanks for all the fish."})
		return false
	case !s.loggedIn.Load():
		_ = s.Reply(m, "Error", ami.Header{Key: "Message", Value: "Permission denied"})
		return true
	case action == "ping":
		srv.mu.Lock()
		off := srv.pingsOff
		srv.mu.Unlock()
		if !off {
			ts := time.Now()
			_ = s.Reply(m, "Success", ami.Header{Key: "Ping", Value: "Pong"},
				ami.Header{Key: "Timestamp", Value: itoa(ts.Unix()) + "." + pad6(ts.Nanosecond()/1000)})
		}
		return true
	case action == "corestatus" && srv.cfg.RefuseCoreStatus:
		_ = s.Reply(m, "Error", ami.Header{Key: "Message", Value: "Permission denied"})
		return true
	case action == "corestatus":
		_, _, start := srv.uptimes()
		_ = s.Reply(m, "Success",
			ami.Header{Key: "Message", Value: "Core Status"},
			ami.Header{Key: "CoreStartupDate", Value: start.Format("2006-01-02")},
			ami.Header{Key: "CoreStartupTime", Value: start.Format("15:04:05")},
			ami.Header{Key: "CoreReloadDate", Value: start.Format("2006-01-02")},
			ami.Header{Key: "CoreReloadTime", Value: start.Format("15:04:05")},
			ami.Header{Key: "CoreCurrentCalls", Value: "0"})
		return true
	case action == "filter" && srv.cfg.RefuseFilter:
		_ = s.Reply(m, "Error", ami.Header{Key: "Message", Value: "Permission denied"})
		return true
	case action == "filter":
		re, err := regexp.CompilePOSIX(m.Get("Filter"))
		if err != nil || !strings.EqualFold(m.Get("Operation"), "Add") {
			_ = s.Reply(m, "Error", ami.Header{Key: "Message", Value: "Filter Not Added"})
			return true
		}
		s.fmu.Lock()
		s.filters = append(s.filters, re)
		s.fmu.Unlock()
		_ = s.Reply(m, "Success", ami.Header{Key: "Message", Value: "Success"})
		return true
	case srv.cfg.Handler != nil:
		srv.cfg.Handler(s, m)
		return true
	default:
		_ = s.Reply(m, "Error", ami.Header{Key: "Message", Value: "Invalid/unknown command"})
		return true
	}
}

func (s *Session) login(m *ami.Message) bool {
	srv := s.srv
	srv.mu.Lock()
	ok := m.Get("Secret") == srv.secret && (srv.cfg.Username == "" || m.Get("Username") == srv.cfg.Username)
	if ok {
		srv.logins++
	} else {
		srv.loginFailures++
	}
	srv.mu.Unlock()
	if !ok {
		_ = s.Reply(m, "Error", ami.Header{Key: "Message", Value: "Authentication failed"})
		return false
	}
	s.eventsOn.Store(!strings.EqualFold(m.Get("Events"), "off"))
	s.loggedIn.Store(true)
	if err := s.Reply(m, "Success", ami.Header{Key: "Message", Value: "Authentication accepted"}); err != nil {
		return false
	}
	if s.eventsOn.Load() && !srv.cfg.NoFullyBooted {
		up, reload, _ := srv.uptimes()
		_ = s.Event("FullyBooted",
			ami.Header{Key: "Privilege", Value: "system,all"},
			ami.Header{Key: "Uptime", Value: itoa(up)},
			ami.Header{Key: "LastReload", Value: itoa(reload)},
			ami.Header{Key: "Status", Value: "Fully Booted"})
	}
	return true
}

func pad6(n int) string {
	s := itoa(int64(n))
	for len(s) < 6 {
		s = "0" + s
	}
	return s
}
