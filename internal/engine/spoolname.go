package engine

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrSpoolName marks a spool file name recpolicy did not write.
var ErrSpoolName = errors.New("not a recpolicy spool file name")

// spoolID names a recording in the spool so that the file alone says what
// it is: <call start, unix seconds>-<extension>-<direction>-<channel
// uniqueid>~<call linkedid>-<n>. A file left by a crash can then be filed
// under the right name, and tied to its call (holds and the directors'
// confidentiality filter go by linkedid), without any other record.
func spoolID(callStart time.Time, extension, direction, uniqueid, linkedid string, n int) string {
	return fmt.Sprintf("%d-%s-%s-%s%s%s-%d", callStart.Unix(), extension, direction, uniqueid, linkedSep, linkedid, n)
}

// linkedSep separates the channel's uniqueid from the call's linkedid in a
// spool name; Asterisk's IDs never hold it.
const linkedSep = "~"

// SpoolInfo is what a spool file's name says.
type SpoolInfo struct {
	CallStart time.Time
	Extension string
	Direction string
	Uniqueid  string
	Linkedid  string // "" in names written before linkedids were
}

// ParseSpoolID reads a recording ID (a spool file name without .wav).
func ParseSpoolID(id string) (SpoolInfo, error) {
	parts := strings.SplitN(id, "-", 4)
	if len(parts) != 4 {
		return SpoolInfo{}, fmt.Errorf("parse spool name %q: %w", id, ErrSpoolName)
	}
	sec, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || sec <= 0 {
		return SpoolInfo{}, fmt.Errorf("parse spool name %q: %w: bad start time", id, ErrSpoolName)
	}
	if parts[1] == "" {
		return SpoolInfo{}, fmt.Errorf("parse spool name %q: %w: no extension", id, ErrSpoolName)
	}
	switch parts[2] {
	case "inbound", "outbound", "other":
	default:
		return SpoolInfo{}, fmt.Errorf("parse spool name %q: %w: bad direction", id, ErrSpoolName)
	}
	rest := parts[3]
	dash := strings.LastIndexByte(rest, '-')
	if dash <= 0 {
		return SpoolInfo{}, fmt.Errorf("parse spool name %q: %w: no uniqueid", id, ErrSpoolName)
	}
	if _, err := strconv.Atoi(rest[dash+1:]); err != nil {
		return SpoolInfo{}, fmt.Errorf("parse spool name %q: %w: bad sequence", id, ErrSpoolName)
	}
	uid, linked, _ := strings.Cut(rest[:dash], linkedSep)
	if uid == "" {
		return SpoolInfo{}, fmt.Errorf("parse spool name %q: %w: no uniqueid", id, ErrSpoolName)
	}
	return SpoolInfo{CallStart: time.Unix(sec, 0), Extension: parts[1], Direction: parts[2], Uniqueid: uid, Linkedid: linked}, nil
}
