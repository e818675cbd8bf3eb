package pg

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/lib/pq"
)

// TestTransient: a passing fault is retried, never dead-lettered; only a
// row that can never be valid is refused for good.
func TestTransient(t *testing.T) {
	pqErr := func(code string) error { return fmt.Errorf("insert calls: %w", &pq.Error{Code: pq.ErrorCode(code)}) }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection lost", pqErr("08006"), true},
		{"read-only server after a failover", pqErr("25006"), true},
		{"rotated password", pqErr("28P01"), true},
		{"role cannot log in", pqErr("28000"), true},
		{"missing privileges", pqErr("42501"), true},
		{"schema not migrated", pqErr("42P01"), true},
		{"admin shutdown", pqErr("57P01"), true},
		{"disk full on the server", pqErr("53100"), true},
		{"out of memory", pqErr("53200"), true},
		{"deadlock", pqErr("40P01"), true},
		{"cancelled", context.Canceled, true},
		{"check constraint", pqErr("23514"), false},
		{"not null", pqErr("23502"), false},
		{"invalid text", pqErr("22P02"), false},
		{"value too long", pqErr("22001"), false},
		{"syntax error", pqErr("42601"), false},
		{"nil", nil, false},
		{"unknown error", errors.New("boom"), true},
	}
	for _, tt := range tests {
		if got := Transient(tt.err); got != tt.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
