package main

import (
	"slices"
	"testing"
)

func TestLocalPorts(t *testing.T) {
	out := `0      0          127.0.0.1:47400    127.0.0.1:8088  users:(("recpolicy",pid=1234,fd=12))
0      0          127.0.0.1:47406    127.0.0.1:8088  users:(("recpolicy",pid=12345,fd=13))
0      0          127.0.0.1:47412    127.0.0.1:8088  users:(("load",pid=99,fd=7))
0      0          [::1]:50000        [::1]:8088      users:(("recpolicy",pid=1234,fd=14))
garbage
`
	tests := []struct {
		pid  int
		want []string
	}{
		{1234, []string{"47400", "50000"}},
		{12345, []string{"47406"}},
		{7, nil},
	}
	for _, tt := range tests {
		if got := localPorts(out, tt.pid); !slices.Equal(got, tt.want) {
			t.Errorf("localPorts(pid %d) = %v, want %v", tt.pid, got, tt.want)
		}
	}
}
