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
