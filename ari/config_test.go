package ari

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestConfigDefaultsAndURLs(t *testing.T) {
	c := Config{URL: "http://127.0.0.1:8088/ari/", Username: "u", Password: "p"}.withDefaults()
	if c.Application != "recpolicy" || c.DialTimeout != 5*time.Second || c.RequestTimeout != 5*time.Second ||
		c.MinBackoff != 200*time.Millisecond || c.MaxBackoff != 10*time.Second || c.HealthInterval != 2*time.Second {
		t.Errorf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	base, _ := c.restBase()
	ws, _ := c.eventsURL()
	if base != "http://127.0.0.1:8088/ari" || ws.String() != "ws://127.0.0.1:8088/ari/events?app=recpolicy" {
		t.Errorf("urls %q %q", base, ws)
	}
	c.URL = "https://pbx.example/ari"
	if ws, _ := c.eventsURL(); ws.String() != "wss://pbx.example/ari/events?app=recpolicy" {
		t.Errorf("https events url %q", ws)
	}
	c.WebsocketURL = "ws://10.0.0.1:8088/ari/events?api_key=leak"
	if ws, _ := c.eventsURL(); ws.String() != "ws://10.0.0.1:8088/ari/events?app=recpolicy" {
		t.Errorf("explicit events url %q", ws)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{URL: "http://127.0.0.1:8088/ari", Username: "u", Password: "p"}
	for name, mod := range map[string]func(*Config){
		"no url":          func(c *Config) { c.URL = "" },
		"ftp url":         func(c *Config) { c.URL = "ftp://x/ari" },
		"credentials url": func(c *Config) { c.URL = "http://u:secret@x/ari" },
		"http events url": func(c *Config) { c.WebsocketURL = "http://x/ari/events" },
		"no password":     func(c *Config) { c.Password = "" },
		"bad app":         func(c *Config) { c.Application = "a/b" },
		"negative":        func(c *Config) { c.HealthInterval = -time.Second },
	} {
		c := ok
		mod(&c)
		err := c.Validate()
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error shows the password: %v", name, err)
		}
	}
	if err := (GreetingConfig{}).Validate(); err != nil {
		t.Errorf("default greeting: %v", err)
	}
	if err := (GreetingConfig{Sound: "avis"}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("sound without scheme: %v", err)
	}
}

func TestConfigLogHidesPassword(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	log.Info().Object("config", Config{URL: "http://x/ari", Username: "u", Password: "hunter2"}).Msg("")
	if strings.Contains(buf.String(), "hunter2") || !strings.Contains(buf.String(), `"password_set":true`) {
		t.Errorf("log %s", buf.String())
	}
}
