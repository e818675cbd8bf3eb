package ingest

import (
	"errors"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/archive"
)

func TestParseCDRFixtures(t *testing.T) {
	toronto, err := time.LoadLocation("America/Toronto")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file      string
		loc       *time.Location
		wantField string // the MalformedError's field; "" when valid
		check     func(t *testing.T, c CDR, unknown []string)
	}{
		{file: "answered.txt", loc: time.UTC, check: func(t *testing.T, c CDR, unknown []string) {
			if c.UniqueID != "mercier-pbx-1795847182.138" || c.LinkedID != c.UniqueID || c.Sequence != 87 {
				t.Errorf("keys: %q %q %d", c.UniqueID, c.LinkedID, c.Sequence)
			}
			if want := time.Date(2026, 11, 28, 6, 26, 22, 0, time.UTC); !c.StartTime.Equal(want) || !c.AnswerTime.Equal(want) {
				t.Errorf("start %v answer %v, want %v", c.StartTime, c.AnswerTime, want)
			}
			if c.Duration != 7 || c.BillableSeconds != 7 || c.Disposition != "ANSWERED" || c.AMAFlags != "DOCUMENTATION" {
				t.Errorf("counts: %+v", c)
			}
			if c.CallerID != `"recpolicy ari test" <5145554442>` || c.LastData != "recpolicy/avis-enregistrement" || c.SystemName != "mercier-pbx" {
				t.Errorf("text fields: %+v", c)
			}
			if len(unknown) != 0 || c.Extra != nil {
				t.Errorf("unknown %v extra %v", unknown, c.Extra)
			}
		}},
		{file: "answered.txt", loc: toronto, check: func(t *testing.T, c CDR, _ []string) {
			// 06:26:22 in Toronto (EST, UTC-5) is 11:26:22 UTC.
			if want := time.Date(2026, 11, 28, 11, 26, 22, 0, time.UTC); !c.StartTime.Equal(want) {
				t.Errorf("start %v, want %v", c.StartTime.UTC(), want)
			}
		}},
		{file: "anonymous.txt", loc: time.UTC, check: func(t *testing.T, c CDR, _ []string) {
			if c.Source != "anonymous" || c.DestinationChannel != "PJSIP/250-00000059" || c.Disposition != "NO ANSWER" {
				t.Errorf("%+v", c)
			}
		}},
		{file: "unanswered.txt", loc: time.UTC, check: func(t *testing.T, c CDR, _ []string) {
			if !c.AnswerTime.IsZero() {
				t.Errorf("answer time %v, want none", c.AnswerTime)
			}
		}},
		{file: "unknown-fields.txt", loc: time.UTC, check: func(t *testing.T, c CDR, unknown []string) {
			if len(unknown) != 2 || c.Extra["Peer"] != "PJSIP/235" || c.Extra["X-Billing-Code"] != "42" {
				t.Errorf("unknown %v extra %v", unknown, c.Extra)
			}
		}},
		{file: "garbage-numbers.txt", loc: time.UTC},
		{file: "malformed-no-sequence.txt", loc: time.UTC, wantField: "Sequence"},
		{file: "malformed-no-linkedid.txt", loc: time.UTC, wantField: "LinkedID"},
		{file: "malformed-no-uniqueid.txt", loc: time.UTC, wantField: "UniqueID"},
		{file: "malformed-bad-starttime.txt", loc: time.UTC, wantField: "StartTime"},
		{file: "malformed-bad-duration.txt", loc: time.UTC, wantField: "Duration"},
		{file: "malformed-end-before-start.txt", loc: time.UTC, wantField: "EndTime"},
		{file: "malformed-negative-sequence.txt", loc: time.UTC, wantField: "Sequence"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.loc.String(), func(t *testing.T) {
			c, unknown, err := ParseCDR(readFixture(t, tt.file), tt.loc)
			if tt.wantField != "" {
				var me *archive.MalformedError
				if !errors.As(err, &me) || !errors.Is(err, archive.ErrMalformed) || me.Field != tt.wantField {
					t.Fatalf("err = %v, want a MalformedError on %s", err, tt.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, c, unknown)
			}
		})
	}
}

func TestParseCDRConflictingDuplicate(t *testing.T) {
	f := append(readFixture(t, "answered.txt"), Field{"Sequence", "99"})
	if _, _, err := ParseCDR(f, time.UTC); !errors.Is(err, archive.ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
}

func TestClassifyNumber(t *testing.T) {
	tests := []struct{ raw, num, flag string }{
		{"5145554442", "5145554442", archive.NumberOK},
		{"235", "235", archive.NumberOK},
		{"+1 (514) 555-0100", "+15145550100", archive.NumberOK},
		{"*97", "*97", archive.NumberOK},
		{"", "", archive.NumberWithheld},
		{"  ", "", archive.NumberWithheld},
		{"anonymous", "", archive.NumberWithheld},
		{"Anonymous", "", archive.NumberWithheld},
		{"restricted", "", archive.NumberWithheld},
		{"unknown", "", archive.NumberWithheld},
		{"<unknown>", "", archive.NumberWithheld},
		{"s", "", archive.NumberInvalid},
		{"abc123", "", archive.NumberInvalid},
		{"514+555", "", archive.NumberInvalid},
		{"---", "", archive.NumberInvalid},
		{"235@internal", "", archive.NumberInvalid},
	}
	for _, tt := range tests {
		num, flag := archive.ClassifyNumber(tt.raw)
		if num != tt.num || flag != tt.flag {
			t.Errorf("ClassifyNumber(%q) = %q, %q; want %q, %q", tt.raw, num, flag, tt.num, tt.flag)
		}
	}
}
