package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
)

// filed is one "recording filed" line of the daemon's log.
type filed struct {
	Linkedid  string  `json:"linkedid"`
	Channel   string  `json:"channel"`
	Extension string  `json:"extension"`
	File      string  `json:"file"`
	Seconds   float64 `json:"seconds"`
	Message   string  `json:"message"`
	Level     string  `json:"level"`
}

// logTail reads the daemon's JSON log as it grows.
type logTail struct {
	path   string
	off    int64
	filed  map[string][]filed // linkedid → recordings filed
	errors int                // lines at level error
	warns  int
}

func newLogTail(path string) *logTail {
	return &logTail{path: path, filed: map[string][]filed{}}
}

// poll reads the complete lines written since the last poll.
func (t *logTail) poll() error {
	f, err := os.Open(t.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(f, 256<<10)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			// An incomplete last line is read again next time.
			return nil
		}
		t.off += int64(len(line))
		if !bytes.Contains(line, []byte(`"level":"`)) {
			continue
		}
		var l filed
		if json.Unmarshal(line, &l) != nil {
			continue
		}
		switch l.Level {
		case "error":
			t.errors++
		case "warn":
			t.warns++
		}
		if l.Message == "recording filed" && l.Linkedid != "" {
			t.filed[l.Linkedid] = append(t.filed[l.Linkedid], l)
		}
	}
}
