package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// LDAPConfig is how the console reaches the city's directory (OpenLDAP or
// Active Directory).
type LDAPConfig struct {
	URL          string // ldaps://host:636, or ldap://host:389 with StartTLS (plain only on loopback)
	StartTLS     bool
	CAFile       string // PEM of the directory's CA; empty: the system's
	BindDN       string // the search account
	BindPassword string
	BaseDN       string // where people are searched
	// UserFilter finds a person by login; %s is the login, escaped.
	// Default (&(objectClass=inetOrgPerson)(uid=%s)); Active Directory:
	// (&(objectClass=user)(sAMAccountName=%s)).
	UserFilter string
	// AdminGroup and ReviewerGroup are group DNs whose members are
	// administrators and Greffe reviewers; empty: none from the directory.
	AdminGroup, ReviewerGroup string
	// TrainerGroup is the group DN whose members prepare training copies.
	TrainerGroup string
	// GroupFilter tells whether the person (%s: their DN, escaped) is a
	// member of the group searched at its DN. Default
	// (|(member=%s)(uniqueMember=%s)); Active Directory, nested groups:
	// (member:1.2.840.113556.1.4.1941:=%s).
	GroupFilter string
	Timeout     time.Duration // per operation (default 5 s)
}

// LDAP authenticates against the directory: the search account finds the
// person's entry, a bind with their DN and password proves them, and the
// configured groups give their roles.
type LDAP struct {
	cfg      LDAPConfig
	tls      *tls.Config
	throttle *throttle
}

// NewLDAP checks cfg and returns the directory's authenticator.
func NewLDAP(cfg LDAPConfig, p *Policy) (*LDAP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		return nil, fmt.Errorf("ldap url %q: use ldaps://host:636 or ldap://host:389", cfg.URL)
	}
	host := u.Hostname()
	if u.Scheme == "ldap" && !cfg.StartTLS {
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("ldap url %q: passwords would cross the network in clear; use ldaps:// or start_tls: true", cfg.URL)
		}
	}
	if cfg.BaseDN == "" {
		return nil, errors.New("ldap base_dn is required: where people are searched, e.g. dc=mercier,dc=local")
	}
	if cfg.UserFilter == "" {
		cfg.UserFilter = "(&(objectClass=inetOrgPerson)(uid=%s))"
	}
	if strings.Count(cfg.UserFilter, "%s") != 1 {
		return nil, fmt.Errorf("ldap user_filter %q must hold %%s once, where the login goes", cfg.UserFilter)
	}
	if cfg.GroupFilter == "" {
		cfg.GroupFilter = "(|(member=%s)(uniqueMember=%s))"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ldap ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ldap ca_file %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if p == nil {
		p = &Policy{}
	}
	p.defaults()
	return &LDAP{cfg: cfg, tls: tc, throttle: newThrottle(p)}, nil
}

// errNoEntry: the directory has no person with that login.
var errNoEntry = errors.New("no such person in the directory")

// Authenticate checks login and password against the directory. The
// error is ErrBadCredentials, ErrThrottled, or the directory being out of
// reach (wrapped).
func (l *LDAP) Authenticate(ctx context.Context, client, login, password string) (Outcome, error) {
	o := Outcome{Login: login, Source: "ldap"}
	if l.throttle.throttled(client) {
		o.Reason = "client throttled"
		return o, ErrThrottled
	}
	if password == "" { // an empty password is an unauthenticated bind: it always "succeeds"
		l.throttle.failed(client)
		o.Reason = "empty password"
		return o, ErrBadCredentials
	}
	conn, err := l.dial(ctx)
	if err != nil {
		return o, fmt.Errorf("log in through the directory: %w", err)
	}
	defer conn.Close()
	if l.cfg.BindDN != "" {
		if err := conn.Bind(l.cfg.BindDN, l.cfg.BindPassword); err != nil {
			return o, fmt.Errorf("log in through the directory: bind as the search account (console.ldap.bind_dn): %w", err)
		}
	}
	dn, err := l.find(conn, login)
	if errors.Is(err, errNoEntry) {
		l.throttle.failed(client)
		o.Reason = "unknown login"
		return o, ErrBadCredentials
	}
	if err != nil {
		return o, fmt.Errorf("log in through the directory: %w", err)
	}
	if err := conn.Bind(dn, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			l.throttle.failed(client)
			o.Reason = "wrong password (or locked in the directory)"
			return o, ErrBadCredentials
		}
		return o, fmt.Errorf("log in through the directory: bind as %s: %w", dn, err)
	}
	// Group membership is read with the search account's rights.
	if l.cfg.BindDN != "" {
		if err := conn.Bind(l.cfg.BindDN, l.cfg.BindPassword); err != nil {
			return o, fmt.Errorf("log in through the directory: bind as the search account again: %w", err)
		}
	}
	for _, g := range []struct{ dn, role string }{{l.cfg.AdminGroup, RoleAdministrator}, {l.cfg.ReviewerGroup, RoleReviewer}, {l.cfg.TrainerGroup, RoleTrainer}} {
		if g.dn == "" {
			continue
		}
		in, err := l.member(conn, g.dn, dn)
		if err != nil {
			return o, fmt.Errorf("log in through the directory: group %s: %w", g.dn, err)
		}
		if in {
			o.Roles = append(o.Roles, g.role)
		}
	}
	o.Reason = "ok"
	return o, nil
}

func (l *LDAP) dial(ctx context.Context) (*ldap.Conn, error) {
	d := &net.Dialer{Timeout: l.cfg.Timeout}
	conn, err := ldap.DialURL(l.cfg.URL, ldap.DialWithDialer(d), ldap.DialWithTLSConfig(l.tls))
	if err != nil {
		return nil, err
	}
	conn.SetTimeout(l.cfg.Timeout)
	if l.cfg.StartTLS {
		if err := conn.StartTLS(l.tls); err != nil {
			conn.Close()
			return nil, fmt.Errorf("start tls: %w", err)
		}
	}
	return conn, nil
}

// find returns the DN of the one person whose login is login.
func (l *LDAP) find(conn *ldap.Conn, login string) (string, error) {
	filter := fmt.Sprintf(l.cfg.UserFilter, ldap.EscapeFilter(login))
	res, err := conn.Search(ldap.NewSearchRequest(l.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2,
		int(l.cfg.Timeout.Seconds()), false, filter, []string{"dn"}, nil))
	if err != nil {
		return "", fmt.Errorf("search %s: %w", filter, err)
	}
	switch len(res.Entries) {
	case 0:
		return "", errNoEntry
	case 1:
		return res.Entries[0].DN, nil
	}
	return "", fmt.Errorf("search %s: several people answer to this login; make console.ldap.user_filter stricter", filter)
}

// member tells whether dn is a member of the group at groupDN.
func (l *LDAP) member(conn *ldap.Conn, groupDN, dn string) (bool, error) {
	esc := ldap.EscapeFilter(dn)
	filter := strings.ReplaceAll(l.cfg.GroupFilter, "%s", esc)
	res, err := conn.Search(ldap.NewSearchRequest(groupDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1,
		int(l.cfg.Timeout.Seconds()), false, filter, []string{"dn"}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return false, fmt.Errorf("no such group in the directory (console.ldap groups)")
	}
	if err != nil {
		return false, err
	}
	return len(res.Entries) == 1, nil
}

// Chain tries the directory first, then the local accounts: a person the
// directory does not know may still have a local account (a city without
// a directory, or an administrator's account kept for when it is down).
type Chain struct {
	Directory *LDAP
	Local     *Local
}

// Authenticate asks the directory, then the local accounts when the
// directory does not know the login or cannot be reached.
func (c Chain) Authenticate(ctx context.Context, client, login, password string) (Outcome, error) {
	if c.Directory != nil {
		o, err := c.Directory.Authenticate(ctx, client, login, password)
		if err == nil || errors.Is(err, ErrThrottled) || o.Reason != "unknown login" && errors.Is(err, ErrBadCredentials) {
			return o, err
		}
		if c.Local == nil {
			return o, err
		}
	}
	return c.Local.Authenticate(ctx, client, login, password)
}
