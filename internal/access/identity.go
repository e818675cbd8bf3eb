package access

import (
	"os"
	"os/user"
	"strings"
)

// AsEnv is the variable a root session (not through sudo) sets to act as
// another login, to check what that login sees; the access log names both.
const AsEnv = "RECPOLICY_AS"

// Identity is who acts: Login, and By when root acts as Login.
type Identity struct {
	Login string
	By    string
}

// Current returns the process's identity, the one source every command
// uses (the access log, the destruction log's actor, the register): under
// sudo the user who ran sudo (SUDO_USER), for a root session RECPOLICY_AS
// when set, otherwise the operating system's login ("unknown" when it has
// none).
func Current() Identity {
	real := ""
	if u, err := user.Current(); err == nil {
		real = u.Username
	}
	if os.Geteuid() == 0 {
		if su := strings.TrimSpace(os.Getenv("SUDO_USER")); su != "" {
			return Identity{Login: su}
		}
		if as := strings.TrimSpace(os.Getenv(AsEnv)); as != "" {
			return Identity{Login: as, By: real}
		}
	}
	if real == "" {
		real = "unknown"
	}
	return Identity{Login: real}
}
