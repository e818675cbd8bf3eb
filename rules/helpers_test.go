package rules_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/villedemercier/recpolicy/rules"
)

// greetingFiles are the greeting WAVs the fixtures and the city file name,
// relative to the rules file's directory. Tests load copies of the files
// from temporary directories, where they create dummies.
func greetingFiles() []string {
	return []string{"sounds/avis.wav", "sounds/avis-enregistrement.wav"}
}

// dummyWAV is a valid, empty 8 kHz mono 16-bit WAV file.
func dummyWAV() []byte {
	return []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")
}

// rulesDir makes a temporary directory holding the greeting files.
func rulesDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range greetingFiles() {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, dummyWAV(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadCopy copies a rules file into a directory holding the greeting
// files and loads it from there.
func loadCopy(t testing.TB, src string) *rules.Rules {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(rulesDir(t), filepath.Base(src))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := rules.Load(path)
	if err != nil {
		t.Fatalf("loading %s:\n%v", src, err)
	}
	return r
}
