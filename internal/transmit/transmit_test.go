package transmit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func bytesSource(e FileEntry, data []byte) Source {
	return Source{Entry: e, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

func sample(t *testing.T) (Manifest, []Source, ed25519.PrivateKey, string) {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	var srcs []Source
	for i, name := range []string{"20261127-1500-235.wav", "20261127-1503-235.wav"} {
		data := bytes.Repeat([]byte{byte(i + 1)}, 5000+i)
		sum := sha256.Sum256(data)
		srcs = append(srcs, bytesSource(FileEntry{Name: "/var/lib/recpolicy/archive/2026/11/27/" + name, RecordingID: int64(10 + i), Extension: "235",
			Start: time.Date(2026, 11, 27, 15, i*3, 0, 0, time.UTC), Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}, data))
	}
	m := Manifest{Request: Request{ID: 12, ReceivedOn: "2026-11-20", Requester: "Me Avocate", Purpose: "plainte", Subject: "appel du 27 novembre"},
		Recipient: "Me Avocate", Channel: "courriel", CreatedAt: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), CreatedBy: "mlaroche", DueOn: "2027-01-31"}
	return m, srcs, key, "une longue phrase de passe remise à part"
}

// TestPackageRoundTrip: what Build makes, Verify accepts; a wrong
// passphrase, another key, a file altered before or inside the package are
// refused.
func TestPackageRoundTrip(t *testing.T) {
	m, srcs, key, pass := sample(t)
	var buf bytes.Buffer
	res, err := Build(&buf, m, srcs, key, pass)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != int64(buf.Len()) || len(res.SHA256) != 64 || len(res.Manifest.Files) != 2 {
		t.Fatalf("result %+v", res)
	}
	pub := key.Public().(ed25519.PublicKey)
	v, err := Verify(bytes.NewReader(buf.Bytes()), pass, pub)
	if err != nil || v.Manifest.Request.ID != 12 || v.Fingerprint != Fingerprint(pub) || v.Manifest.Files[0].Name != "enregistrements/20261127-1500-235.wav" {
		t.Fatalf("verify: %+v %v", v, err)
	}
	if _, err := Verify(bytes.NewReader(buf.Bytes()), "pas la bonne phrase de passe", pub); err == nil {
		t.Error("a wrong passphrase opened the package")
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := Verify(bytes.NewReader(buf.Bytes()), pass, other); !errors.Is(err, ErrTampered) {
		t.Errorf("another key: %v", err)
	}
	if _, err := Build(io.Discard, m, srcs, key, "court"); !errors.Is(err, ErrWeakPassphrase) {
		t.Errorf("short passphrase: %v", err)
	}
	// A recording changed since it was archived stops the package.
	bad := srcs[1]
	bad.Open = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("changed")), nil }
	if _, err := Build(io.Discard, m, []Source{srcs[0], bad}, key, pass); !errors.Is(err, ErrTampered) {
		t.Errorf("changed recording: %v", err)
	}
}

// TestPackageWithDebianTools: the requester's way, with Debian's age,
// tar, openssl and sha256sum, as LISEZMOI.txt tells it.
func TestPackageWithDebianTools(t *testing.T) {
	for _, tool := range []string{"age", "openssl", "sha256sum", "script", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: docker/sandbox up installs Debian's age (apt-get install age)", tool)
		}
	}
	m, srcs, key, pass := sample(t)
	dir := t.TempDir()
	pkg := filepath.Join(dir, "demande-12.tar.age")
	f, _ := os.Create(pkg)
	if _, err := Build(f, m, srcs, key, pass); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// age reads the passphrase from the terminal: script gives it one.
	cmd := exec.Command("script", "-q", "-e", "-c", "age -d -o "+filepath.Join(dir, "paquet.tar")+" "+pkg, "/dev/null")
	cmd.Stdin = strings.NewReader(pass + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("age -d: %v: %s", err, out)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		c := exec.Command(name, args...)
		c.Dir = dir
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v: %s", name, args, err, out)
		}
		return string(out)
	}
	run("tar", "-xf", "paquet.tar")
	der := run("sh", "-c", "openssl pkey -pubin -in "+PublicKeyName+" -outform DER | sha256sum")
	if !strings.HasPrefix(der, Fingerprint(key.Public().(ed25519.PublicKey))) {
		t.Errorf("fingerprint by openssl %q, want %s", der, Fingerprint(key.Public().(ed25519.PublicKey)))
	}
	run("sh", "-c", "base64 -d "+SignatureName+" > manifest.sig")
	if out := run("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", PublicKeyName, "-rawin", "-in", ManifestName, "-sigfile", "manifest.sig"); !strings.Contains(out, "Signature Verified Successfully") {
		t.Errorf("openssl: %s", out)
	}
	if out := run("sha256sum", "-c", SumsName); strings.Count(out, ": OK") != 2 {
		t.Errorf("sha256sum: %s", out)
	}
	readme, _ := os.ReadFile(filepath.Join(dir, ReadmeName))
	if !strings.Contains(string(readme), "Demande n° 12") || !strings.Contains(string(readme), "2027-01-31") {
		t.Errorf("LISEZMOI.txt: %s", readme)
	}
	// An altered manifest no longer verifies with openssl.
	mj, _ := os.ReadFile(filepath.Join(dir, ManifestName))
	os.WriteFile(filepath.Join(dir, ManifestName), bytes.Replace(mj, []byte("Me Avocate"), []byte("Me Autre  "), 1), 0o600)
	c := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", PublicKeyName, "-rawin", "-in", ManifestName, "-sigfile", "manifest.sig")
	c.Dir = dir
	if out, err := c.CombinedOutput(); err == nil {
		t.Errorf("openssl verified an altered manifest: %s", out)
	}
}

func TestKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "signing.pem")
	pubPEM, err := GenerateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateKey(p); err == nil {
		t.Error("a key was written over another")
	}
	k, err := LoadKey(p)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicPEM(pubPEM)
	if err != nil || !pub.Equal(k.Public()) {
		t.Errorf("public key %v %v", pub, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v", fi.Mode())
	}
}

func TestNewPassphrase(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		p := NewPassphrase()
		if len(p) != 35 || len([]rune(p)) < MinPassphrase || strings.Count(p, "-") != 5 || strings.ContainsAny(p, "01ilo") {
			t.Fatalf("passphrase %q: want six groups of five unambiguous characters", p)
		}
		if seen[p] {
			t.Fatalf("passphrase %q drawn twice", p)
		}
		seen[p] = true
	}
}
