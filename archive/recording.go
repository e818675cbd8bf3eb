package archive

import (
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"time"
)

// DefaultRetention is the retention class of a recording that names none.
const DefaultRetention = "standard"

// Recording is one filed recording's metadata.
type Recording struct {
	Path           string    `json:"path"`   // absolute path of the filed WAV file; the key
	SHA256         string    `json:"sha256"` // hex
	Size           int64     `json:"size"`   // bytes
	Duration       float64   `json:"duration"`
	Extension      string    `json:"extension"`
	Departments    []string  `json:"departments"`
	Direction      string    `json:"direction"` // inbound, outbound or other
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	UniqueID       string    `json:"uniqueid"`
	LinkedID       string    `json:"linkedid"`
	RetentionClass string    `json:"retention_class"` // DefaultRetention when empty
	Repaired       bool      `json:"repaired"`        // its WAV header was repaired when filed
	// The evidence of its decision (empty in rows archived before it was
	// kept).
	DecisionRule     string          `json:"decision_rule,omitempty"`
	DecisionReason   string          `json:"decision_reason,omitempty"`
	Parties          json.RawMessage `json:"parties,omitempty"`           // JSON array: each party's channel and class
	CallConfidential bool            `json:"call_confidential,omitempty"` // a confidential extension took part in the call
	RulesSHA256      string          `json:"rules_sha256,omitempty"`      // the rules file in force (rules_versions)
	Greeting         string          `json:"greeting,omitempty"`          // how the caller was greeted: played, cut_short, fallback, none, unknown
}

// RulesVersion is one load of the rules file by the daemon: kept in the
// database with the recordings it decided.
type RulesVersion struct {
	SHA256   string    `json:"sha256"`
	LoadedAt time.Time `json:"loaded_at"`
	Trigger  string    `json:"trigger"` // start, SIGHUP, file changed
	Source   string    `json:"source"`  // the file's path
	Content  string    `json:"content"`
}

// Validate returns a *MalformedError when r cannot be archived.
func (r *Recording) Validate() error {
	switch {
	case r.Path == "" || !filepath.IsAbs(r.Path):
		return &MalformedError{Field: "Path", Value: r.Path, Reason: "not an absolute path"}
	case len(r.SHA256) != 64 || !isHex(r.SHA256):
		return &MalformedError{Field: "SHA256", Value: r.SHA256, Reason: "not a hex SHA-256"}
	case r.Size < 0:
		return &MalformedError{Field: "Size", Reason: "negative"}
	case r.Start.IsZero():
		return &MalformedError{Field: "Start", Reason: "missing"}
	case !r.End.IsZero() && r.End.Before(r.Start):
		return &MalformedError{Field: "End", Value: r.End.String(), Reason: "before Start"}
	case len(r.Parties) > 0 && !json.Valid(r.Parties):
		return &MalformedError{Field: "Parties", Reason: "not JSON"}
	case r.RulesSHA256 != "" && (len(r.RulesSHA256) != 64 || !isHex(r.RulesSHA256)):
		return &MalformedError{Field: "RulesSHA256", Value: r.RulesSHA256, Reason: "not a hex SHA-256"}
	}
	return nil
}

// Validate returns a *MalformedError when v cannot be archived.
func (v *RulesVersion) Validate() error {
	if len(v.SHA256) != 64 || !isHex(v.SHA256) || v.LoadedAt.IsZero() {
		return &MalformedError{Field: "SHA256", Value: v.SHA256, Reason: "not a hex SHA-256, or no load time"}
	}
	return nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// Directions of a call or a recording.
const (
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
	DirectionOther    = "other"
)

// StoredRecording is a recording as the database holds it, with its row id.
type StoredRecording struct {
	ID int64 `json:"id"`
	Recording
}
