package config

import (
	"fmt"
	"net"
	"time"
)

// Console is the `recpolicy console` service: where it listens, its TLS
// certificate, and its sessions' and logins' limits.
type Console struct {
	// Listen is host:port (default 127.0.0.1:8443). Without TLS it must be
	// a loopback address: plain HTTP never leaves the machine.
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey are PEM files (both or neither).
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// SessionIdle ends a session unused for that long (default 30m);
	// SessionMax ends any session that old (default 10h).
	SessionIdle Duration `yaml:"session_idle"`
	SessionMax  Duration `yaml:"session_max"`
	// LockAfter failed logins in a row lock a local account for LockFor
	// (defaults 5 and 15m).
	LockAfter int      `yaml:"lock_after"`
	LockFor   Duration `yaml:"lock_for"`
	// LDAP, when set, logs people in through the city's directory first
	// (local accounts still work: for people it does not know, or when it
	// is out of reach).
	LDAP *LDAP `yaml:"ldap"`
}

// LDAP is the city's directory (OpenLDAP or Active Directory).
type LDAP struct {
	URL           string `yaml:"url"` // ldaps://host:636, or ldap:// with start_tls (plain only on loopback)
	StartTLS      bool   `yaml:"start_tls"`
	CAFile        string `yaml:"ca_file"`
	BindDN        string `yaml:"bind_dn"` // the search account
	BindPassword  Secret `yaml:"bind_password"`
	BaseDN        string `yaml:"base_dn"`
	UserFilter    string `yaml:"user_filter"`    // default (&(objectClass=inetOrgPerson)(uid=%s))
	GroupFilter   string `yaml:"group_filter"`   // default (|(member=%s)(uniqueMember=%s))
	AdminGroup    string `yaml:"admin_group"`    // DN: its members are administrators
	ReviewerGroup string `yaml:"reviewer_group"` // DN: its members are Greffe reviewers
	TrainerGroup  string `yaml:"trainer_group"`  // DN: its members prepare training copies
}

// TLS tells whether the console serves HTTPS.
func (c Console) TLS() bool { return c.TLSCert != "" }

// TLSKeyCredential is the systemd credential that, when the console's unit
// passes it (LoadCredential=console-tls-key:FILE), stands for
// console.tls_key: the root-only key reaches the console through it.
const TLSKeyCredential = "console-tls-key"

// TLSKeyFile returns the console's TLS key: the systemd credential
// console-tls-key when the process was passed it, else console.tls_key.
func (c Console) TLSKeyFile() string {
	if p := credentialPath(TLSKeyCredential); p != "" {
		return p
	}
	return c.TLSKey
}

func (c *Console) setDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8443"
	}
	if c.SessionIdle == 0 {
		c.SessionIdle = Duration(30 * time.Minute)
	}
	if c.SessionMax == 0 {
		c.SessionMax = Duration(10 * time.Hour)
	}
	if c.LockAfter == 0 {
		c.LockAfter = 5
	}
	if c.LockFor == 0 {
		c.LockFor = Duration(15 * time.Minute)
	}
}

func (c *Console) validate() []string {
	var p []string
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		p = append(p, fmt.Sprintf("console.listen %q is not host:port, e.g. 0.0.0.0:443 or 127.0.0.1:8443", c.Listen))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		p = append(p, "console.tls_cert and console.tls_key go together: give both PEM files, or neither (plain HTTP on loopback only)")
	}
	if c.TLSCert == "" && err == nil && !loopback(host) {
		p = append(p, fmt.Sprintf("console.listen %q is not a loopback address: the console serves plain HTTP only on loopback; give console.tls_cert and console.tls_key to listen on the network", c.Listen))
	}
	if c.SessionIdle.Std() < time.Minute || c.SessionMax.Std() < c.SessionIdle.Std() || c.SessionMax.Std() > 24*time.Hour {
		p = append(p, "console.session_idle must be at least 1m, and console.session_max between it and 24h")
	}
	if c.LockAfter < 1 || c.LockAfter > 100 || c.LockFor.Std() < time.Minute {
		p = append(p, "console.lock_after must be 1 to 100, and console.lock_for at least 1m")
	}
	if l := c.LDAP; l != nil {
		if l.URL == "" || l.BaseDN == "" {
			p = append(p, "console.ldap needs url (ldaps://host:636) and base_dn (where people are searched)")
		}
		if l.BindDN != "" && !l.BindPassword.Set() {
			p = append(p, "console.ldap.bind_password needs env, credential or file (secrets are never written in the config)")
		}
	}
	return p
}

// loopback tells whether host names this machine only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
