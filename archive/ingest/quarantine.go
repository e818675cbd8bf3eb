package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/internal/files"
)

// QuarantineFile is the name, in the spool directory, of the file that
// keeps what could not be archived: one JSON object a line.
const QuarantineFile = "quarantine.jsonl"

// QuarantineRecord is one line of the quarantine file.
type QuarantineRecord struct {
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
	// Exactly one of these holds the record as it came.
	Event     []Field               `json:"event,omitempty"`      // a Cdr event's fields
	Recording *archive.Recording    `json:"recording,omitempty"`  // a recording
	CDR       *CDR                  `json:"cdr,omitempty"`        // a spooled CDR the database refused
	Rules     *archive.RulesVersion `json:"rules,omitempty"`      // a rules version the database refused
	SpoolFile string                `json:"spool_file,omitempty"` // a spool file that did not decode...
	Raw       string                `json:"raw,omitempty"`        // ...and its bytes
}

// quarantine appends records to the quarantine file, fsync'd.
type quarantine struct {
	path string
	mu   sync.Mutex
	n    atomic.Uint64 // records added since the archive opened
}

func (q *quarantine) add(r QuarantineRecord) error {
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("quarantine: encode: %w", err)
	}
	line = append(line, '\n')
	q.mu.Lock()
	defer q.mu.Unlock()
	_, statErr := os.Stat(q.path)
	f, err := os.OpenFile(q.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return fmt.Errorf("quarantine: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("quarantine: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	if statErr != nil { // the file is new: make its name durable
		if err := files.SyncDir(filepath.Dir(q.path)); err != nil {
			return fmt.Errorf("quarantine: %w", err)
		}
	}
	q.n.Add(1)
	return nil
}

// ReadQuarantine returns the records of a spool directory's quarantine file
// (none when it does not exist); name, when given, reads another file of
// the directory (a quarantine taken aside by a replay).
func ReadQuarantine(spoolDir string, name ...string) ([]QuarantineRecord, error) {
	file := QuarantineFile
	if len(name) > 0 {
		file = name[0]
	}
	data, err := os.ReadFile(filepath.Join(spoolDir, file))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	var out []QuarantineRecord
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var r QuarantineRecord
		if err := dec.Decode(&r); err != nil {
			return out, fmt.Errorf("read quarantine: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}
