package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cityRules copies the city's rules with a stand-in greeting.
func cityRules(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("../../rules/mercier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sounds"), 0o755)
	os.WriteFile(filepath.Join(dir, "sounds", "avis-enregistrement.wav"), []byte("RIFF"), 0o644)
	p := filepath.Join(dir, "rules.yaml")
	os.WriteFile(p, src, 0o644)
	return p
}

func TestCLI(t *testing.T) {
	good := cityRules(t)
	bad := filepath.Join(filepath.Dir(good), "bad.yaml")
	os.WriteFile(bad, []byte("timezon: America/Toronto\n"), 0o644)
	tests := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"no command", nil, 2, "", "usage:"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"check valid", []string{"rules", "check", good}, 0, "SUCCESS: 55 extensions", ""},
		{"check invalid", []string{"rules", "check", bad}, 1, "", "bad.yaml:1:1:"},
		{"check missing file", []string{"rules", "check", "/nonexistent.yaml"}, 1, "", "nonexistent.yaml"},
		{"test external", []string{"rules", "test", good, "--from", "5145550100", "--to", "235", "--via", "carrier"}, 0, "RECORDED: extension 235", ""},
		{"test internal", []string{"rules", "test", good, "--from", "235", "--to", "250"}, 0, "NOT RECORDED\nrule: internal-call", ""},
		{"test detainee", []string{"rules", "test", good, "--from", "5145550100", "--to", "899", "--via", "carrier"}, 0, "rule: never-record", ""},
		{"test spoofed detainee caller ID", []string{"rules", "test", good, "--from", "899", "--to", "235", "--via", "carrier"}, 0, "RECORDED: extension 235", ""},
		{"test spoofed Annexe A caller ID", []string{"rules", "test", good, "--from", "250@carrier", "--to", "235"}, 0, "calling party: carrier (250): external, decided by its endpoint", ""},
		{"test unknown trunk", []string{"rules", "test", good, "--from", "250@nowhere", "--to", "235"}, 2, "", `--from "nowhere" is not a trunk of the rules file (trunks: carrier)`},
		{"test conference", []string{"rules", "test", good, "--from", "5145550100", "--via", "carrier", "--to", "235", "--party", "250"}, 0, "RECORDED: extension 235's recording, extension 250's recording", ""},
		{"test conference with the detainee phone", []string{"rules", "test", good, "--from", "5145550100", "--via", "carrier", "--to", "235", "--party", "899"}, 0, "NOT RECORDED\nrule: never-record", ""},
		{"test missing flag", []string{"rules", "test", good, "--from", "235"}, 2, "", "usage: recpolicy rules test"},
		{"show", []string{"rules", "show", good}, 0, "Communications et TI", ""},
		{"run without config", []string{"run"}, 2, "", "give the configuration file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errb.String())
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("stdout %q, want it to contain %q", out.String(), tc.out)
			}
			if !strings.Contains(errb.String(), tc.err) {
				t.Errorf("stderr %q, want it to contain %q", errb.String(), tc.err)
			}
		})
	}
}
