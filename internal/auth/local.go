package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/accounts"
)

// Errors of a login; test with errors.Is. Each is what the person is told,
// the same for an unknown login and a wrong password.
var (
	// ErrBadCredentials: the login or the password is wrong (or the account
	// is disabled: the person is told no more).
	ErrBadCredentials = errors.New("identifiant ou mot de passe incorrect")
	// ErrThrottled: too many failures from this client or on this account;
	// try again later.
	ErrThrottled = errors.New("trop de tentatives : réessayez dans quelques minutes")
)

// Accounts is what a Local authenticator needs of the accounts store;
// *accounts.Store is one.
type Accounts interface {
	GetUser(ctx context.Context, login string) (accounts.User, error)
	LoginFailed(ctx context.Context, login string, lockAfter int, lockFor time.Duration) (*time.Time, error)
	LoginSucceeded(ctx context.Context, login string) error
}

// Policy is the login rules.
type Policy struct {
	LockAfter    int           // failures in a row that lock an account (default 5)
	LockFor      time.Duration // how long (default 15 min)
	ClientLimit  int           // failures from one client within ClientWindow before it waits (default 10)
	ClientWindow time.Duration // default 10 min
	MaxClients   int           // clients remembered at most (default 10,000; the oldest are forgotten)
	Now          func() time.Time
}

func (p *Policy) defaults() {
	if p.LockAfter <= 0 {
		p.LockAfter = 5
	}
	if p.LockFor <= 0 {
		p.LockFor = 15 * time.Minute
	}
	if p.ClientLimit <= 0 {
		p.ClientLimit = 10
	}
	if p.ClientWindow <= 0 {
		p.ClientWindow = 10 * time.Minute
	}
	if p.MaxClients <= 0 {
		p.MaxClients = 10000
	}
	if p.Now == nil {
		p.Now = time.Now
	}
}

// Local authenticates against the console's local accounts.
type Local struct {
	store  Accounts
	policy *Policy
	*throttle
	// dummy is a hash checked for unknown logins, so that they take as long
	// as known ones.
	dummyOnce sync.Once
	dummy     string
}

// NewLocal returns the local accounts' authenticator.
func NewLocal(store Accounts, p *Policy) *Local {
	if p == nil {
		p = &Policy{}
	}
	p.defaults()
	return &Local{store: store, policy: p, throttle: newThrottle(p)}
}

// Outcome says what happened to a login attempt, for the access log (the
// person sees only the error).
type Outcome struct {
	Login  string
	Reason string // "ok", "unknown login", "wrong password", "disabled", "locked", "client throttled"
	Source string // "local" or "ldap"
	// Roles are what the directory's groups give (RoleAdministrator,
	// RoleReviewer); a local account has none: its rights come from the
	// config and the rules.
	Roles []string
}

// Roles a directory group can give.
const (
	RoleAdministrator = "administrator"
	RoleReviewer      = "reviewer"
	RoleTrainer       = "trainer"
)

// Authenticate checks login and password for a client (its address).
// It returns the account's login on success; otherwise ErrBadCredentials
// or ErrThrottled, and in Outcome the reason to log.
func (l *Local) Authenticate(ctx context.Context, client, login, password string) (Outcome, error) {
	o := Outcome{Login: login, Source: "local"}
	if l.throttled(client) {
		o.Reason = "client throttled"
		return o, ErrThrottled
	}
	u, err := l.store.GetUser(ctx, login)
	if errors.Is(err, archive.ErrNotFound) || (err == nil && !accounts.LoginPattern.MatchString(login)) {
		l.dummyOnce.Do(func() { l.dummy, _ = HashPassword("not a password of anyone") })
		CheckPassword(l.dummy, password) // the same time as a known login
		l.failed(client)
		o.Reason = "unknown login"
		return o, ErrBadCredentials
	}
	if err != nil {
		return o, fmt.Errorf("log in: %w", err)
	}
	if u.LockedUntil != nil && u.LockedUntil.After(l.policy.Now()) {
		l.failed(client)
		o.Reason = "locked"
		return o, ErrThrottled
	}
	ok, err := CheckPassword(u.PasswordHash, password)
	if err != nil {
		return o, fmt.Errorf("log in %s: %w", login, err)
	}
	if !ok {
		l.failed(client)
		o.Reason = "wrong password"
		if until, err := l.store.LoginFailed(ctx, login, l.policy.LockAfter, l.policy.LockFor); err != nil {
			return o, err
		} else if until != nil && until.After(l.policy.Now()) {
			o.Reason = "wrong password; account locked"
		}
		return o, ErrBadCredentials
	}
	if u.Disabled {
		o.Reason = "disabled"
		return o, ErrBadCredentials
	}
	if err := l.store.LoginSucceeded(ctx, login); err != nil {
		return o, err
	}
	o.Reason = "ok"
	return o, nil
}
