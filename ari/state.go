package ari

// ConnState is the state of the client's connection to Asterisk.
type ConnState int32

// Connection states.
const (
	// StateIdle: Run has not been called yet.
	StateIdle ConnState = iota
	// StateConnecting: dialling the WebSocket.
	StateConnecting
	// StateConnected: the WebSocket is up and the application registered.
	StateConnected
	// StateDisconnected: the connection failed or dropped; a reconnection is
	// scheduled.
	StateDisconnected
	// StateStopped: Run has returned.
	StateStopped
)

// String returns the state's name.
func (s ConnState) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	case StateStopped:
		return "stopped"
	}
	return "unknown"
}
