package ami

import (
	"fmt"
	"time"
)

// Config for a connection.
type Config struct {
	Addr          string        // host:port
	Username      string        // AMI user (manager.conf section)
	Secret        string        // never logged
	Events        string        // value for Login's Events header, e.g. "on" or "call,cdr,system"; "" means "on"
	Filter        string        // POSIX extended regular expression Asterisk matches each event's text against (the Filter action); "" means every event
	DialTimeout   time.Duration // TCP connect and banner; default 5s
	ActionTimeout time.Duration // default timeout of every action, Login and Ping included; default 5s
	PingInterval  time.Duration // keepalive period; default 5s
	MinBackoff    time.Duration // first reconnect delay; default 200ms
	MaxBackoff    time.Duration // reconnect delay cap; default 10s
}

// Defaults of Config fields left zero.
const (
	DefaultDialTimeout   = 5 * time.Second
	DefaultActionTimeout = 5 * time.Second
	DefaultPingInterval  = 5 * time.Second
	DefaultMinBackoff    = 200 * time.Millisecond
	DefaultMaxBackoff    = 10 * time.Second
)

// withDefaults returns c with zero or negative fields set to their defaults
// and MaxBackoff raised to MinBackoff if lower.
func (c Config) withDefaults() Config {
	if c.Events == "" {
		c.Events = "on"
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.ActionTimeout <= 0 {
		c.ActionTimeout = DefaultActionTimeout
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	return c
}

// String formats the configuration with the secret redacted.
func (c Config) String() string {
	secret := ""
	if c.Secret != "" {
		secret = "<redacted>"
	}
	return fmt.Sprintf("{Addr:%s Username:%s Secret:%s Events:%s Filter:%q DialTimeout:%v ActionTimeout:%v PingInterval:%v MinBackoff:%v MaxBackoff:%v}",
		c.Addr, c.Username, secret, c.Events, c.Filter, c.DialTimeout, c.ActionTimeout, c.PingInterval, c.MinBackoff, c.MaxBackoff)
}

// GoString is like String, so that %#v does not print the secret either.
func (c Config) GoString() string { return "ami.Config" + c.String() }
