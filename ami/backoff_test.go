package ami

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{Addr: "x:5038", Secret: "s3cret", MinBackoff: time.Second, MaxBackoff: time.Millisecond}.withDefaults()
	if c.Events != "on" || c.DialTimeout != DefaultDialTimeout || c.ActionTimeout != DefaultActionTimeout ||
		c.PingInterval != DefaultPingInterval || c.MaxBackoff != time.Second {
		t.Fatalf("defaults: %v", c)
	}
	for _, s := range []string{c.String(), c.GoString()} {
		if strings.Contains(s, "s3cret") {
			t.Fatalf("secret printed: %s", s)
		}
	}
}
