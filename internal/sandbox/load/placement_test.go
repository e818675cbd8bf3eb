package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageUnitSched: the harness runs the daemon with what the package's
// unit asks of the scheduler.
func TestPackageUnitSched(t *testing.T) {
	got, err := readUnitSched(filepath.Join("..", "..", "packaging", "systemd", "recpolicy.service"))
	if err != nil {
		t.Fatal(err)
	}
	if got != (unitSched{nice: -5, weight: 400}) {
		t.Errorf("recpolicy.service: got Nice=%d CPUWeight=%d, want -5 and 400", got.nice, got.weight)
	}
}

func TestReadUnitSched(t *testing.T) {
	for _, tc := range []struct {
		name, unit string
		want       unitSched
		err        string
	}{
		{"defaults", "[Service]\nExecStart=/bin/true\n", unitSched{weight: defaultCPUWeight}, ""},
		{"both", "[Service]\nNice=3\nCPUWeight=250\n", unitSched{nice: 3, weight: 250}, ""},
		{"commented", "[Service]\n#Nice=-5\n# CPUWeight=400\n", unitSched{weight: defaultCPUWeight}, ""},
		{"nice out of range", "[Service]\nNice=-21\n", unitSched{}, ":2: Nice=\"-21\" is not a number from -20 to 19"},
		{"weight not a number", "[Service]\n\nCPUWeight=high\n", unitSched{}, ":3: CPUWeight=\"high\" is not a number from 1 to 10000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "x.service")
			if err := os.WriteFile(f, []byte(tc.unit), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readUnitSched(f)
			if tc.err != "" {
				if err == nil || !strings.HasSuffix(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), f) {
					t.Fatalf("got %v, want %s%s", err, f, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
