package ami

import "time"

// NotificationKind says what a Notification reports.
type NotificationKind int

// Notification kinds.
const (
	// KindEvent carries an AMI event in Msg.
	KindEvent NotificationKind = iota
	// KindConnected reports a logged-in session. It is delivered before any
	// event of that session, and Action and List can be used as soon as it
	// is received.
	KindConnected
	// KindDisconnected reports the end of a session that was announced by
	// KindConnected; Err says why. Failed connection attempts are not
	// notified (see Client.LastError).
	KindDisconnected
)

// String returns the kind's name.
func (k NotificationKind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindConnected:
		return "connected"
	case KindDisconnected:
		return "disconnected"
	}
	return "unknown"
}

// Notification is what Client.Notifications delivers.
type Notification struct {
	Kind NotificationKind
	// Msg is the event for KindEvent. For KindConnected it is the
	// FullyBooted event Asterisk sent right after login (nil if none: the
	// session has no "system" events); that event is also delivered as a
	// KindEvent after the KindConnected.
	Msg *Message
	// Err is why the session ended, for KindDisconnected.
	Err error
	// Received is when the client read the event off the connection, for
	// KindEvent: the consumer can tell how long it waited in the queue.
	Received time.Time
	// Restarted is set for KindConnected when Asterisk restarted since the
	// previous session (its start time, from CoreStatus or the FullyBooted
	// Uptime, moved forward). Best-effort; false on the first session.
	Restarted bool
	// Boot identifies the run of Asterisk the session talks to, for
	// KindConnected and KindEvent: its start date and time (CoreStatus's
	// CoreStartupDate and CoreStartupTime). Every session of one run gives
	// the same; "" when Asterisk refused CoreStatus. See
	// Client.ActionOnBoot.
	Boot string
}
