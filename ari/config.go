package ari

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Defaults applied to zero Config and GreetingConfig fields.
const (
	DefaultApplication     = "recpolicy"
	DefaultDialTimeout     = 5 * time.Second
	DefaultRequestTimeout  = 5 * time.Second
	DefaultMinBackoff      = 200 * time.Millisecond
	DefaultMaxBackoff      = 10 * time.Second
	DefaultHealthInterval  = 2 * time.Second
	DefaultGreetingSound   = "sound:recpolicy/avis-enregistrement"
	DefaultGreetingTimeout = 30 * time.Second
)

// Config configures the ARI connection. Zero durations take the defaults
// above; nothing is read from the environment (ARI_* variables are ignored).
type Config struct {
	// URL is the ARI base URL, e.g. http://127.0.0.1:8088/ari. Required.
	URL string
	// WebsocketURL is the events URL, e.g. ws://127.0.0.1:8088/ari/events;
	// when empty it is derived from URL (http→ws, https→wss, path + /events).
	WebsocketURL string
	// Username and Password are the ari.conf user's credentials. Required.
	// The password is never logged.
	Username, Password string
	// Application is the Stasis application name (default "recpolicy").
	Application string
	// DialTimeout bounds the TCP dial and the WebSocket upgrade (default 5s);
	// RequestTimeout bounds each REST request (default 5s).
	DialTimeout, RequestTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnection attempts,
	// doubling from MinBackoff up to MaxBackoff (defaults 200ms and 10s).
	MinBackoff, MaxBackoff time.Duration
	// HealthInterval is the period of the WebSocket ping and of the
	// application check (default 2s).
	HealthInterval time.Duration
}

// GreetingConfig configures the greeting played to inbound callers.
type GreetingConfig struct {
	// Sound is the Asterisk media URI played to the caller (default
	// "sound:recpolicy/avis-enregistrement").
	Sound string
	// Timeout caps the time a channel spends in the application; past it the
	// channel is continued in the dialplan (default 30s).
	Timeout time.Duration
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.Application == "" {
		c.Application = DefaultApplication
	}
	setDuration(&c.DialTimeout, DefaultDialTimeout)
	setDuration(&c.RequestTimeout, DefaultRequestTimeout)
	setDuration(&c.MinBackoff, DefaultMinBackoff)
	setDuration(&c.MaxBackoff, DefaultMaxBackoff)
	setDuration(&c.HealthInterval, DefaultHealthInterval)
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	return c
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Validate reports whether c, with the defaults applied, can be used.
func (c Config) Validate() error {
	c = c.withDefaults()
	if _, err := c.restBase(); err != nil {
		return err
	}
	if _, err := c.eventsURL(); err != nil {
		return err
	}
	if c.Username == "" || c.Password == "" {
		return fmt.Errorf("%w: username and password are required", ErrInvalidConfig)
	}
	if strings.ContainsAny(c.Application, "/?#&= ") {
		return fmt.Errorf("%w: application name %q", ErrInvalidConfig, c.Application)
	}
	for name, d := range map[string]time.Duration{
		"dial timeout": c.DialTimeout, "request timeout": c.RequestTimeout,
		"min backoff": c.MinBackoff, "max backoff": c.MaxBackoff,
		"health interval": c.HealthInterval,
	} {
		if d < 0 {
			return fmt.Errorf("%w: negative %s %v", ErrInvalidConfig, name, d)
		}
	}
	return nil
}

// restBase parses URL, without a trailing slash.
func (c Config) restBase() (string, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return "", fmt.Errorf("%w: parse url: %v", ErrInvalidConfig, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: url %q is not an http(s) URL", ErrInvalidConfig, u.Redacted())
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: url %q must not carry credentials", ErrInvalidConfig, u.Redacted())
	}
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimSuffix(u.String(), "/"), nil
}

// eventsURL returns the WebSocket events URL, derived from URL when
// WebsocketURL is empty, with the application in its query.
func (c Config) eventsURL() (*url.URL, error) {
	var u *url.URL
	if c.WebsocketURL != "" {
		var err error
		if u, err = url.Parse(c.WebsocketURL); err != nil {
			return nil, fmt.Errorf("%w: parse websocket url: %v", ErrInvalidConfig, err)
		}
	} else {
		base, err := c.restBase()
		if err != nil {
			return nil, err
		}
		u, _ = url.Parse(base + "/events") // base parsed above
		u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	}
	if (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, fmt.Errorf("%w: websocket url %q is not a ws(s) URL", ErrInvalidConfig, u.Redacted())
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: websocket url %q must not carry credentials", ErrInvalidConfig, u.Redacted())
	}
	q := u.Query()
	q.Set("app", c.Application)
	q.Del("api_key")
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u, nil
}

// MarshalZerologObject logs the configuration without the password.
func (c Config) MarshalZerologObject(e *zerolog.Event) {
	e.Str("url", c.URL).
		Str("websocket_url", c.WebsocketURL).
		Str("username", c.Username).
		Bool("password_set", c.Password != "").
		Str("application", c.Application).
		Dur("dial_timeout", c.DialTimeout).
		Dur("request_timeout", c.RequestTimeout).
		Dur("min_backoff", c.MinBackoff).
		Dur("max_backoff", c.MaxBackoff).
		Dur("health_interval", c.HealthInterval)
}

// withDefaults returns g with its zero fields set to the defaults.
func (g GreetingConfig) withDefaults() GreetingConfig {
	if g.Sound == "" {
		g.Sound = DefaultGreetingSound
	}
	setDuration(&g.Timeout, DefaultGreetingTimeout)
	return g
}

// Validate reports whether g, with the defaults applied, can be used.
func (g GreetingConfig) Validate() error {
	g = g.withDefaults()
	scheme, rest, ok := strings.Cut(g.Sound, ":")
	if !ok || scheme == "" || rest == "" || strings.ContainsAny(g.Sound, "\r\n") {
		return fmt.Errorf("%w: greeting sound %q is not a media URI such as sound:recpolicy/avis-enregistrement", ErrInvalidConfig, g.Sound)
	}
	if g.Timeout < 0 {
		return fmt.Errorf("%w: negative greeting timeout %v", ErrInvalidConfig, g.Timeout)
	}
	return nil
}
