package rules

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem found in a rules file, at a position of that file.
// Line and Col are 1-based; Line is 0 when the problem concerns the whole
// file (for instance when it cannot be read). yaml.v3 gives no column for
// YAML syntax errors: Col is then 1.
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
}

// Error formats the problem as "file:line:col: message", or
// "file: message" when it has no position.
func (e *Error) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Errors is every problem found in a rules file, sorted by position.
// Load and Parse return it (as an error) whenever a file is rejected.
type Errors struct {
	Errs []*Error
}

// Error returns one problem per line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the individual problems, for errors.As and errors.Is.
func (e *Errors) Unwrap() []error {
	errs := make([]error, len(e.Errs))
	for i, err := range e.Errs {
		errs[i] = err
	}
	return errs
}

// errorList gathers the problems of one file while it is parsed.
type errorList struct {
	file string
	errs []*Error
}

// at records a problem at a node's position.
func (l *errorList) at(n *yaml.Node, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	l.pos(line, col, format, args...)
}

// pos records a problem at an explicit position.
func (l *errorList) pos(line, col int, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// err returns nil when nothing was recorded, else *Errors sorted by
// position (problems at one position keep the order they were found in).
func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	errs := append([]*Error(nil), l.errs...)
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Line != errs[j].Line {
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Col < errs[j].Col
	})
	return &Errors{Errs: errs}
}
