package engine

import (
	"errors"
	"testing"
	"time"
)

func TestSpoolID(t *testing.T) {
	start := time.Unix(1795847391, 0)
	id := spoolID(start, "235", "inbound", "mercier-pbx-1795847391.9", "mercier-pbx-1795847391.8", 2)
	if id != "1795847391-235-inbound-mercier-pbx-1795847391.9~mercier-pbx-1795847391.8-2" {
		t.Fatalf("spoolID = %q", id)
	}
	got, err := ParseSpoolID(id)
	if err != nil {
		t.Fatal(err)
	}
	want := SpoolInfo{CallStart: start, Extension: "235", Direction: "inbound", Uniqueid: "mercier-pbx-1795847391.9", Linkedid: "mercier-pbx-1795847391.8"}
	if got != want {
		t.Fatalf("ParseSpoolID = %+v, want %+v", got, want)
	}
	// Names written before linkedids were carried still read.
	got, err = ParseSpoolID("1795847391-235-inbound-mercier-pbx-1795847391.9-2")
	if want.Linkedid = ""; err != nil || got != want {
		t.Fatalf("ParseSpoolID(old name) = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{"", "x", "abc-235-inbound-u-1", "1-235-sideways-u-1", "1--inbound-u-1", "1-235-inbound-u-x", "1-235-inbound-u", "1-235-inbound-~l-1"} {
		if _, err := ParseSpoolID(bad); !errors.Is(err, ErrSpoolName) {
			t.Errorf("ParseSpoolID(%q) = %v, want ErrSpoolName", bad, err)
		}
	}
}
