package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	// The rules must validate the same everywhere, with or without the
	// system's time zone database.
	_ "time/tzdata"
)

// MaxFileSize is the largest rules file accepted, in bytes.
const MaxFileSize = 1 << 20

// Load reads, parses and validates a rules file. The greeting file is
// looked for relative to the rules file's directory. On failure it
// returns *Errors holding every problem of the file.
func Load(path string) (*Rules, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, &Errors{Errs: []*Error{{File: path, Msg: err.Error()}}}
	}
	return Parse(path, data, filepath.Dir(path))
}

// readFile reads at most MaxFileSize+1 bytes of a file.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the rules file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the rules file: %w", err)
	}
	return data, nil
}

// Parse parses and validates the bytes of a rules file. file names it in
// error messages (and is what Source returns); baseDir is the directory
// the greeting file is relative to ("" for the current directory). On
// failure it returns *Errors holding every problem of the file.
//
// Parse only reads the file system to check that the greeting file exists.
func Parse(file string, data []byte, baseDir string) (*Rules, error) {
	errs := &errorList{file: file}
	if len(data) > MaxFileSize {
		errs.pos(0, 0, "the rules file is larger than %d bytes; is it the right file?", MaxFileSize)
		return nil, errs.err()
	}
	root := readDocument(data, errs)
	if root == nil {
		return nil, errs.err()
	}
	d := &decoder{errs: errs}
	raw := d.decodeFile(root)
	r := compile(raw, baseDir, errs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	r.source = file
	r.digest = hex.EncodeToString(sum[:])
	r.text = string(data)
	return r, nil
}
