package core

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
// it is: <call start, unix seconds>-<extension>-<direction>-<channel uniqueid>-<n>.
// A file left by a crash can then be filed under the right name without any
// other record.
func spoolID(callStart time.Time, extension, direction, uniqueid string, n int) string {
	return fmt.Sprintf("%d-%s-%s-%s-%d", callStart.Unix(), extension, direction, uniqueid, n)
}

// SpoolInfo is what a spool file's name says.
type SpoolInfo struct {
	CallStart time.Time
	Extension string
	Direction string
	Uniqueid  string
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
	return SpoolInfo{CallStart: time.Unix(sec, 0), Extension: parts[1], Direction: parts[2], Uniqueid: rest[:dash]}, nil
}
