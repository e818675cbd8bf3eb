package ari

import (
	"errors"
	"testing"
)

func TestStatusErrorSentinels(t *testing.T) {
	for code, want := range map[int]error{404: ErrNotFound, 409: ErrConflict, 401: ErrUnauthorized, 403: ErrUnauthorized} {
		if err := error(&statusError{code: code}); !errors.Is(err, want) {
			t.Errorf("%d is not %v", code, want)
		}
	}
	if errors.Is(&statusError{code: 500}, ErrNotFound) {
		t.Error("500 is not found")
	}
}

// TestNotInStasisIsTheChannelsConflictOnly: Asterisk answers 409 both for a
// channel not in the application and for a recording's file that exists;
// only the first is ErrNotInStasis.
func TestNotInStasisIsTheChannelsConflictOnly(t *testing.T) {
	tests := []struct {
		code    int
		message string
		want    bool
	}{
		{409, "Channel not in Stasis application", true},
		{409, "Recording 'r1' already exists and can not be overwritten", false},
		{409, "", false},
		{404, "Channel not in Stasis application", false},
	}
	for _, tt := range tests {
		err := error(&statusError{code: tt.code, message: tt.message})
		if got := errors.Is(err, ErrNotInStasis); got != tt.want {
			t.Errorf("%d %q: ErrNotInStasis %v, want %v", tt.code, tt.message, got, tt.want)
		}
		if tt.code == 409 && !errors.Is(err, ErrConflict) {
			t.Errorf("%d %q is not ErrConflict", tt.code, tt.message)
		}
	}
}
