package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/accounts"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash %q %v", h, err)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, tc := range []struct {
		hash, pw string
		ok       bool
		err      bool
	}{
		{h, "correct horse battery", true, false},
		{h, "correct horse batterY", false, false},
		{h, "", false, false},
		{"$2y$10$abcdefghijklmnopqrstuv", "x", false, true},
		{"$argon2id$v=19$m=0,t=3,p=2$c2FsdA$a2V5", "x", false, true},
		{"$argon2id$v=19$m=99999999,t=3,p=2$c2FsdA$a2V5", "x", false, true},
		{"", "x", false, true},
	} {
		ok, err := CheckPassword(tc.hash, tc.pw)
		if ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("CheckPassword(%q, %q) = %v, %v", tc.hash, tc.pw, ok, err)
		}
	}
	if _, err := HashPassword("short"); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("short password: %v", err)
	}
}

// fakeAccounts is an in-memory accounts store.
type fakeAccounts struct {
	users map[string]*accounts.User
	now   func() time.Time
}

func (f *fakeAccounts) GetUser(_ context.Context, login string) (accounts.User, error) {
	u, ok := f.users[login]
	if !ok {
		return accounts.User{}, fmt.Errorf("account %s: %w", login, archive.ErrNotFound)
	}
	return *u, nil
}

func (f *fakeAccounts) LoginFailed(_ context.Context, login string, after int, lockFor time.Duration) (*time.Time, error) {
	u := f.users[login]
	u.FailedLogins++
	if u.FailedLogins >= after {
		t := f.now().Add(lockFor)
		u.LockedUntil = &t
	}
	return u.LockedUntil, nil
}

func (f *fakeAccounts) LoginSucceeded(_ context.Context, login string) error {
	f.users[login].FailedLogins, f.users[login].LockedUntil = 0, nil
	return nil
}

func TestLocalLogin(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	h, _ := HashPassword("mot de passe du chef")
	store := &fakeAccounts{now: clock, users: map[string]*accounts.User{
		"chef.police": {Login: "chef.police", PasswordHash: h},
		"parti":       {Login: "parti", PasswordHash: h, Disabled: true},
	}}
	l := NewLocal(store, &Policy{LockAfter: 3, LockFor: 15 * time.Minute, ClientLimit: 100, Now: clock})
	ctx := context.Background()
	try := func(client, login, pw string) (Outcome, error) { return l.Authenticate(ctx, client, login, pw) }

	if o, err := try("10.0.0.1", "chef.police", "mot de passe du chef"); err != nil || o.Reason != "ok" {
		t.Fatalf("good password: %+v %v", o, err)
	}
	for _, tc := range []struct{ login, pw, reason string }{
		{"inconnu", "mot de passe du chef", "unknown login"},
		{"parti", "mot de passe du chef", "disabled"},
		{"chef.police", "mauvais", "wrong password"},
	} {
		o, err := try("10.0.0.1", tc.login, tc.pw)
		if !errors.Is(err, ErrBadCredentials) || o.Reason != tc.reason {
			t.Errorf("%s: %+v %v, want ErrBadCredentials (%s)", tc.login, o, err, tc.reason)
		}
	}
	// Two more failures lock the account, even for the right password.
	try("10.0.0.2", "chef.police", "mauvais")
	if o, _ := try("10.0.0.3", "chef.police", "mauvais"); o.Reason != "wrong password; account locked" {
		t.Errorf("third failure: %+v", o)
	}
	if o, err := try("10.0.0.4", "chef.police", "mot de passe du chef"); !errors.Is(err, ErrThrottled) || o.Reason != "locked" {
		t.Errorf("locked account, right password: %+v %v", o, err)
	}
	now = now.Add(16 * time.Minute)
	if _, err := try("10.0.0.4", "chef.police", "mot de passe du chef"); err != nil {
		t.Errorf("after the lock: %v", err)
	}

	// One client failing too often waits, whatever the login.
	l2 := NewLocal(store, &Policy{LockAfter: 1000, ClientLimit: 3, ClientWindow: 10 * time.Minute, MaxClients: 2, Now: clock})
	for i := 0; i < 3; i++ {
		l2.Authenticate(ctx, "10.9.9.9", fmt.Sprintf("x%d", i), "y")
	}
	if o, err := l2.Authenticate(ctx, "10.9.9.9", "chef.police", "mot de passe du chef"); !errors.Is(err, ErrThrottled) || o.Reason != "client throttled" {
		t.Errorf("throttled client: %+v %v", o, err)
	}
	if _, err := l2.Authenticate(ctx, "10.8.8.8", "chef.police", "mot de passe du chef"); err != nil {
		t.Errorf("another client: %v", err)
	}
	now = now.Add(11 * time.Minute)
	if _, err := l2.Authenticate(ctx, "10.9.9.9", "chef.police", "mot de passe du chef"); err != nil {
		t.Errorf("after the window: %v", err)
	}
	// Memory stays bounded.
	for i := 0; i < 50; i++ {
		l2.Authenticate(ctx, fmt.Sprintf("10.1.1.%d", i), "x", "y")
	}
	if len(l2.clients) > 2 {
		t.Errorf("%d clients remembered, want at most 2", len(l2.clients))
	}
}
