package rules_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/rules"
)

// FuzzParse checks that no input makes Parse panic or hang, that every
// rejection is a positioned *Errors, and that whatever is accepted keeps
// the policy's promises: every Annexe A extension is recorded with every
// trunk, and no never_record phone ever is.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, "mercier.yaml")
	for _, seed := range seeds {
		data, err := os.ReadFile(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	dir := rulesDir(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := rules.Parse("fuzz.yaml", data, dir)
		if err != nil {
			var errs *rules.Errors
			if !errors.As(err, &errs) || len(errs.Errs) == 0 {
				t.Fatalf("want *rules.Errors, got %T: %v", err, err)
			}
			for _, e := range errs.Errs {
				if e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 || e.Col < 0 {
					t.Fatalf("bad error %+v", e)
				}
			}
			return
		}
		if err := r.WriteShow(io.Discard); err != nil {
			t.Fatal(err)
		}
		_ = r.FileName(time.Now(), "235")
		_ = r.Explain("235", "5145550100", "")
		for _, tr := range r.Trunks() {
			for _, e := range r.Extensions() {
				if d := r.Decide(rules.Party{Endpoint: tr}, rules.Party{Endpoint: e.Endpoint}); !d.Record || d.Extension != e.Number {
					t.Fatalf("extension %s with trunk %s not recorded: %+v", e.Number, tr, d)
				}
			}
			for _, n := range r.NeverRecord() {
				for _, never := range []rules.Party{{Endpoint: n.Endpoint}, {Number: n.Number}} {
					if never == (rules.Party{}) {
						continue
					}
					if d := r.Decide(rules.Party{Endpoint: tr}, never); d.Record {
						t.Fatalf("never_record %+v recorded: %+v", n, d)
					}
				}
			}
		}
	})
}
