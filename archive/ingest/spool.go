package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/internal/files"
)

// Entry kinds in the spool.
const (
	kindCDR       = "cdr"
	kindRecording = "recording"
	kindRules     = "rules"
)

// entry is one record waiting in the spool.
type entry struct {
	Kind      string                `json:"kind"`
	CDR       *CDR                  `json:"cdr,omitempty"`
	Recording *archive.Recording    `json:"recording,omitempty"`
	Rules     *archive.RulesVersion `json:"rules,omitempty"`
}

// valid tells whether an entry holds exactly the payload its kind names.
func (e entry) valid() bool {
	n := 0
	for _, set := range []bool{e.CDR != nil, e.Recording != nil, e.Rules != nil} {
		if set {
			n++
		}
	}
	return n == 1 && (e.Kind == kindCDR) == (e.CDR != nil) && (e.Kind == kindRecording) == (e.Recording != nil) &&
		(e.Kind == kindRules) == (e.Rules != nil)
}

// spool is a directory of files named <sequence>-<count>.jsonl, each
// holding count entries as JSON lines, replayed in sequence order. A file
// is written under a temporary name, fsync'd, renamed and the directory
// fsync'd: a file under its final name is complete.
type spool struct {
	dir string

	mu   sync.Mutex // serialises appends, so sequence order is append order
	next uint64
}

// spoolFile is one complete file of the spool.
type spoolFile struct {
	name  string
	seq   uint64
	count int
}

const tmpPrefix = files.TempPrefix

func openSpool(dir string) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	s := &spool{dir: dir, next: 1}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			// An append that never returned: its caller was not told it
			// was durable, so it is not ours to keep.
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return nil, fmt.Errorf("open spool: %w", err)
			}
			continue
		}
		if f, ok := parseSpoolName(e.Name()); ok && f.seq >= s.next {
			s.next = f.seq + 1
		}
	}
	return s, nil
}

func parseSpoolName(name string) (spoolFile, bool) {
	base, ok := strings.CutSuffix(name, ".jsonl")
	if !ok {
		return spoolFile{}, false
	}
	seqS, countS, ok := strings.Cut(base, "-")
	if !ok {
		return spoolFile{}, false
	}
	seq, err1 := strconv.ParseUint(seqS, 10, 64)
	count, err2 := strconv.Atoi(countS)
	if err1 != nil || err2 != nil || count < 1 {
		return spoolFile{}, false
	}
	return spoolFile{name: name, seq: seq, count: count}, true
}

// append writes entries as one spool file and returns once it is durable.
func (s *spool) append(entries []entry) error {
	if len(entries) == 0 {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range entries {
		if err := enc.Encode(&entries[i]); err != nil {
			return fmt.Errorf("spool: encode: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.next
	name := fmt.Sprintf("%020d-%d.jsonl", seq, len(entries))
	if err := files.WriteDurable(s.dir, name, buf.Bytes()); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.next++
	return nil
}

// pending returns the spool's complete files in sequence order.
func (s *spool) pending() ([]spoolFile, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list spool: %w", err)
	}
	var out []spoolFile
	for _, e := range ents {
		if f, ok := parseSpoolName(e.Name()); ok {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b spoolFile) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return out, nil
}

// errCorrupt marks a spool file that does not decode.
var errCorrupt = errors.New("corrupt spool file") // sentinel, internal

// read returns a spool file's entries and its raw bytes.
func (s *spool) read(f spoolFile) ([]entry, []byte, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, f.name))
	if err != nil {
		return nil, nil, fmt.Errorf("read spool %s: %w", f.name, err)
	}
	var out []entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, data, fmt.Errorf("read spool %s: %w: %v", f.name, errCorrupt, err)
		}
		if !e.valid() {
			return nil, data, fmt.Errorf("read spool %s: %w: entry of kind %q", f.name, errCorrupt, e.Kind)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, data, fmt.Errorf("read spool %s: %w: %v", f.name, errCorrupt, err)
	}
	if len(out) != f.count {
		return nil, data, fmt.Errorf("read spool %s: %w: %d entries, name says %d", f.name, errCorrupt, len(out), f.count)
	}
	return out, data, nil
}

// remove deletes spool files whose rows the database holds.
func (s *spool) remove(done []spoolFile) error {
	for _, f := range done {
		if err := os.Remove(filepath.Join(s.dir, f.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove from spool: %w", err)
		}
	}
	if err := files.SyncDir(s.dir); err != nil {
		return fmt.Errorf("remove from spool: %w", err)
	}
	return nil
}
