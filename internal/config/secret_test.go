package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "dsn")
	os.WriteFile(file, []byte("postgres://from-file\n"), 0o600)
	creds := filepath.Join(dir, "credentials")
	os.Mkdir(creds, 0o700)
	os.WriteFile(filepath.Join(creds, "dsn"), []byte("postgres://from-credential\n"), 0o600)
	os.WriteFile(filepath.Join(creds, SigningKeyCredential), []byte("key"), 0o600)
	t.Setenv("RECPOLICY_TEST_DSN", "postgres://from-env")
	for _, c := range []struct {
		name, creds string
		s           Secret
		want, err   string
	}{
		{"env first", creds, Secret{Env: "RECPOLICY_TEST_DSN", Credential: "dsn", File: file}, "postgres://from-env", ""},
		{"credential under systemd", creds, Secret{Credential: "dsn", File: file}, "postgres://from-credential", ""},
		{"file outside systemd", "", Secret{Credential: "dsn", File: file}, "postgres://from-file", ""},
		{"file when the unit passes no such credential", creds, Secret{Credential: "other", File: file}, "postgres://from-file", ""},
		{"credential alone outside systemd", "", Secret{Credential: "dsn"}, "", "LoadCredential=dsn:FILE"},
		{"a credential name is not a path", creds, Secret{Credential: "../dsn", File: file}, "postgres://from-file", ""},
		{"nothing", "", Secret{}, "", "no source"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("CREDENTIALS_DIRECTORY", c.creds)
			got, err := c.s.Resolve()
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("Resolve() = %q, %v; want an error with %q", got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Resolve() = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	cfg := &Config{Archive: Archive{SigningKey: "/etc/recpolicy/signing-key.pem"}}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	if got := cfg.SigningKeyFile(); got != filepath.Join(creds, SigningKeyCredential) {
		t.Errorf("signing key under systemd: %s", got)
	}
	os.WriteFile(filepath.Join(creds, TLSKeyCredential), []byte("key"), 0o600)
	if got := (Console{TLSKey: "/etc/recpolicy/console.key"}).TLSKeyFile(); got != filepath.Join(creds, TLSKeyCredential) {
		t.Errorf("console key under systemd: %s", got)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	if got := (Console{TLSKey: "/etc/recpolicy/console.key"}).TLSKeyFile(); got != "/etc/recpolicy/console.key" {
		t.Errorf("console key outside systemd: %s", got)
	}
	if got := cfg.SigningKeyFile(); got != "/etc/recpolicy/signing-key.pem" {
		t.Errorf("signing key outside systemd: %s", got)
	}
}
