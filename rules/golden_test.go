package rules_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/villedemercier/recpolicy/rules"
)

// TestGolden parses every testdata/*.yaml in a directory holding the
// greeting files. A fixture named ok-*.yaml must parse; any other must be
// rejected with exactly the messages of its .errors file (the temporary
// directory written as $DIR). RECPOLICY_UPDATE_GOLDEN=1 rewrites the
// .errors files.
func TestGolden(t *testing.T) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures in testdata: %v", err)
	}
	update := os.Getenv("RECPOLICY_UPDATE_GOLDEN") == "1"
	for _, fixture := range fixtures {
		name := filepath.Base(fixture)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(fixture)
			if err != nil {
				t.Fatal(err)
			}
			dir := rulesDir(t)
			_, err = rules.Parse(name, data, dir)
			golden := strings.TrimSuffix(fixture, ".yaml") + ".errors"
			if strings.HasPrefix(name, "ok-") {
				if err != nil {
					t.Fatalf("want no error, got:\n%v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want errors, got none")
			}
			var errs *rules.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want *rules.Errors, got %T: %v", err, err)
			}
			for _, e := range errs.Errs {
				if e.File != name || e.Line < 1 || e.Col < 1 {
					t.Errorf("error without a position: %+v", e)
				}
			}
			got := strings.ReplaceAll(err.Error(), dir, "$DIR") + "\n"
			if update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (RECPOLICY_UPDATE_GOLDEN=1 writes it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}
