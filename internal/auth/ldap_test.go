package auth

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/ldaptest"
)

// TestLDAP: against a real slapd, people log in with their directory
// password, groups give roles, a wrong password, an unknown login, an
// empty password and a filter injection are refused.
func TestLDAP(t *testing.T) {
	dir := ldaptest.Start(t, []ldaptest.Person{
		{UID: "mlaroche", Name: "Marie Laroche", Password: "laroche-secret-1", Groups: []string{"recpolicy-admins"}},
		{UID: "chef.police", Name: "Chef de police", Password: "police-secret-22"},
		{UID: "mgreffe", Name: "Greffière", Password: "greffe-secret-333", Groups: []string{"greffe"}},
	})
	l, err := NewLDAP(LDAPConfig{URL: dir.URL, BindDN: ldaptest.Admin, BindPassword: ldaptest.AdminPassword, BaseDN: "ou=people," + ldaptest.Base,
		AdminGroup: "cn=recpolicy-admins,ou=groups," + ldaptest.Base, ReviewerGroup: "cn=greffe,ou=groups," + ldaptest.Base}, &Policy{ClientLimit: 100})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		login, pw string
		roles     []string
		err       error
		reason    string
	}{
		{"mlaroche", "laroche-secret-1", []string{RoleAdministrator}, nil, "ok"},
		{"chef.police", "police-secret-22", nil, nil, "ok"},
		{"mgreffe", "greffe-secret-333", []string{RoleReviewer}, nil, "ok"},
		{"chef.police", "wrong", nil, ErrBadCredentials, "wrong password (or locked in the directory)"},
		{"chef.police", "", nil, ErrBadCredentials, "empty password"},
		{"nobody", "x", nil, ErrBadCredentials, "unknown login"},
		{"*", "police-secret-22", nil, ErrBadCredentials, "unknown login"},
		{"chef.police)(uid=*", "police-secret-22", nil, ErrBadCredentials, "unknown login"},
	} {
		o, err := l.Authenticate(ctx, "10.0.0.1", tc.login, tc.pw)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) || o.Reason != tc.reason || !slices.Equal(o.Roles, tc.roles) || o.Source != "ldap" {
			t.Errorf("%s/%s: %+v %v, want %v %s %v", tc.login, tc.pw, o, err, tc.err, tc.reason, tc.roles)
		}
	}
	// An unreachable directory is an error, not a refusal; Chain then asks the local accounts.
	down, _ := NewLDAP(LDAPConfig{URL: "ldap://127.0.0.1:1", BaseDN: ldaptest.Base, Timeout: time.Second}, nil)
	if _, err := down.Authenticate(ctx, "c", "mlaroche", "x"); err == nil || errors.Is(err, ErrBadCredentials) {
		t.Errorf("directory down: %v", err)
	}
	if _, err := NewLDAP(LDAPConfig{URL: "ldap://ad.mercier.local", BaseDN: "dc=x"}, nil); err == nil {
		t.Error("plain ldap:// across the network accepted")
	}
}
