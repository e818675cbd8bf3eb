package ingest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/villedemercier/recpolicy/archive"
)

// Field is one key/value header of an AMI Cdr event, in the order received.
type Field struct{ Key, Value string }

// CDR is one call detail record, parsed from a Cdr event. Text fields hold
// the raw values Asterisk sent; times are absolute (UTC when stored).
type CDR struct {
	AccountCode        string            `json:"account_code"`
	Source             string            `json:"source"`
	Destination        string            `json:"destination"`
	DestinationContext string            `json:"destination_context"`
	CallerID           string            `json:"callerid"`
	Channel            string            `json:"channel"`
	DestinationChannel string            `json:"destination_channel"`
	LastApplication    string            `json:"last_application"`
	LastData           string            `json:"last_data"`
	StartTime          time.Time         `json:"start_time"`
	AnswerTime         time.Time         `json:"answer_time"` // zero when the call was never answered
	EndTime            time.Time         `json:"end_time"`
	Duration           int64             `json:"duration"`
	BillableSeconds    int64             `json:"billable_seconds"`
	Disposition        string            `json:"disposition"`
	AMAFlags           string            `json:"ama_flags"`
	UniqueID           string            `json:"uniqueid"`
	UserField          string            `json:"user_field"`
	LinkedID           string            `json:"linkedid"`
	Sequence           int64             `json:"sequence"`
	SystemName         string            `json:"system_name"`
	Extra              map[string]string `json:"extra,omitempty"` // fields this package does not know
}

// setText stores the value of a text header of the Cdr event (key in lower
// case) and reports whether the key is one.
func (c *CDR) setText(key, v string) bool {
	switch key {
	case "accountcode":
		c.AccountCode = v
	case "source":
		c.Source = v
	case "destination":
		c.Destination = v
	case "destinationcontext":
		c.DestinationContext = v
	case "callerid":
		c.CallerID = v
	case "channel":
		c.Channel = v
	case "destinationchannel":
		c.DestinationChannel = v
	case "lastapplication":
		c.LastApplication = v
	case "lastdata":
		c.LastData = v
	case "disposition":
		c.Disposition = v
	case "amaflags":
		c.AMAFlags = v
	case "uniqueid":
		c.UniqueID = v
	case "userfield":
		c.UserField = v
	case "linkedid":
		c.LinkedID = v
	case "systemname":
		c.SystemName = v
	default:
		return false
	}
	return true
}

// isEnvelope reports whether a header (lower case) is part of every AMI
// event rather than CDR data.
func isEnvelope(key string) bool {
	switch key {
	case "event", "privilege", "timestamp", "actionid":
		return true
	}
	return false
}

// isOtherKnown reports whether a header (lower case) is a CDR field parsed
// apart from the text fields.
func isOtherKnown(key string) bool {
	switch key {
	case "starttime", "answertime", "endtime", "duration", "billableseconds", "sequence":
		return true
	}
	return false
}

// requiredFields returns, for each field without which a CDR cannot be keyed
// or linked, how to get it.
func requiredFields() [][2]string {
	const truncated = "Asterisk always sends it; the event is truncated"
	return [][2]string{
		{"UniqueID", truncated},
		{"StartTime", truncated},
		{"EndTime", truncated},
		{"Duration", truncated},
		{"BillableSeconds", truncated},
		{"Disposition", truncated},
		{"LinkedID", "add `linkedid => LinkedID` under [mappings] in cdr_manager.conf"},
		{"Sequence", "add `sequence => Sequence` under [mappings] in cdr_manager.conf"},
	}
}

// cdrTimeLayout is how cdr_manager formats times: local wall time.
const cdrTimeLayout = "2006-01-02 15:04:05"

// ParseCDR parses a Cdr event's fields, reading its times in loc (the
// PBX's time zone). Keys match case-insensitively. It returns the unknown
// fields' names beside the CDR (they are kept in CDR.Extra); an error is a
// *MalformedError.
func ParseCDR(fields []Field, loc *time.Location) (CDR, []string, error) {
	var c CDR
	seen := make(map[string]string, len(fields))
	var unknown []string
	for _, f := range fields {
		k := strings.ToLower(strings.TrimSpace(f.Key))
		if isEnvelope(k) {
			continue
		}
		if prev, dup := seen[k]; dup && prev != f.Value {
			return CDR{}, nil, &archive.MalformedError{Field: f.Key, Value: f.Value, Reason: fmt.Sprintf("given twice with different values (first %q)", prev)}
		}
		seen[k] = f.Value
	}
	for _, r := range requiredFields() {
		if _, ok := seen[strings.ToLower(r[0])]; !ok {
			return CDR{}, nil, &archive.MalformedError{Field: r[0], Reason: "missing", Hint: r[1]}
		}
	}
	for k, v := range seen {
		c.setText(k, v)
	}
	if strings.TrimSpace(c.UniqueID) == "" {
		return CDR{}, nil, &archive.MalformedError{Field: "UniqueID", Reason: "empty", Hint: "a CDR cannot be keyed without it"}
	}
	if strings.TrimSpace(c.LinkedID) == "" {
		return CDR{}, nil, &archive.MalformedError{Field: "LinkedID", Reason: "empty", Hint: "check the linkedid mapping in cdr_manager.conf"}
	}
	var err error
	if c.StartTime, err = parseCDRTime("StartTime", seen["starttime"], loc, false); err != nil {
		return CDR{}, nil, err
	}
	if c.AnswerTime, err = parseCDRTime("AnswerTime", seen["answertime"], loc, true); err != nil {
		return CDR{}, nil, err
	}
	if c.EndTime, err = parseCDRTime("EndTime", seen["endtime"], loc, false); err != nil {
		return CDR{}, nil, err
	}
	if c.EndTime.Before(c.StartTime) {
		return CDR{}, nil, &archive.MalformedError{Field: "EndTime", Value: seen["endtime"], Reason: "before StartTime " + seen["starttime"]}
	}
	if c.Duration, err = parseCount("Duration", seen["duration"]); err != nil {
		return CDR{}, nil, err
	}
	if c.BillableSeconds, err = parseCount("BillableSeconds", seen["billableseconds"]); err != nil {
		return CDR{}, nil, err
	}
	if c.Sequence, err = parseCount("Sequence", seen["sequence"]); err != nil {
		return CDR{}, nil, err
	}
	for _, f := range fields {
		k := strings.ToLower(strings.TrimSpace(f.Key))
		if isEnvelope(k) || isOtherKnown(k) || c.setText(k, seen[k]) {
			continue
		}
		if c.Extra == nil {
			c.Extra = map[string]string{}
		}
		if _, dup := c.Extra[f.Key]; !dup {
			unknown = append(unknown, f.Key)
		}
		c.Extra[f.Key] = f.Value
	}
	return c, unknown, nil
}

func parseCDRTime(key, v string, loc *time.Location, optional bool) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" && optional {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(cdrTimeLayout, v, loc)
	if err != nil {
		return time.Time{}, &archive.MalformedError{Field: key, Value: v, Reason: "not a time", Hint: `cdr_manager writes "2006-01-02 15:04:05" in the PBX's local time`}
	}
	return t, nil
}

func parseCount(key, v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt32 {
		return 0, &archive.MalformedError{Field: key, Value: v, Reason: "not a whole number from 0 to 2147483647"}
	}
	return n, nil
}
