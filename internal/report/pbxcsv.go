package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	store "github.com/villedemercier/recpolicy/archive/report"
)

// The columns of Asterisk's cdr_csv Master.csv with cdr.conf [csv]
// loguniqueid, loguserfield and newcdrcolumns set (21 columns).
const (
	csvSrc = 1 + iota
	csvDst
	csvContext
	csvCLID
	csvChannel
	csvDstChannel
	csvLastApp
	csvLastData
	csvStart
	csvAnswer
	csvEnd
	csvDuration
	csvBillsec
	csvDisposition
	csvAMAFlags
	csvUniqueID
	csvUserField
	csvPeerAccount
	csvLinkedID
	csvSequence
	csvColumns
)

// ErrPBXCSV: the PBX's call records cannot be read as the report needs.
var ErrPBXCSV = errors.New("the PBX's Master.csv")

// ReadPBXCSV reads the call records the PBX wrote itself (cdr_csv's
// Master.csv, times in UTC: cdr.conf [csv] usegmtime, loguniqueid,
// loguserfield, newcdrcolumns = yes) that started in [from, to): the
// report's source of call records independent of the daemon.
func ReadPBXCSV(r io.Reader, from, to time.Time) ([]store.Leg, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var out []store.Leg
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPBXCSV, err)
		}
		if len(rec) < csvColumns {
			return nil, fmt.Errorf("%w: line %d has %d columns, not %d: set usegmtime, loguniqueid, loguserfield and newcdrcolumns = yes in cdr.conf [csv], then module reload cdr_csv.so (older lines stay as they were: start a new file)",
				ErrPBXCSV, line, len(rec), csvColumns)
		}
		start, err := time.ParseInLocation("2006-01-02 15:04:05", rec[csvStart], time.UTC)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: its start (column %d) is not a time such as 2026-11-18 15:00:00", ErrPBXCSV, line, csvStart+1)
		}
		if start.Before(from) || !start.Before(to) {
			continue
		}
		l := store.Leg{UniqueID: rec[csvUniqueID], LinkedID: rec[csvLinkedID], Start: start, Source: rec[csvSrc], Destination: rec[csvDst],
			Channel: rec[csvChannel], DestChannel: rec[csvDstChannel], Disposition: strings.TrimSpace(rec[csvDisposition])}
		if a, err := time.ParseInLocation("2006-01-02 15:04:05", rec[csvAnswer], time.UTC); err == nil {
			l.Answer = &a
		}
		l.End, _ = time.ParseInLocation("2006-01-02 15:04:05", rec[csvEnd], time.UTC)
		l.Billable, _ = strconv.Atoi(rec[csvBillsec])
		l.Sequence, _ = strconv.ParseInt(rec[csvSequence], 10, 64)
		if l.LinkedID == "" {
			l.LinkedID = l.UniqueID
		}
		out = append(out, l)
	}
}
