package main

import (
	"slices"
	"testing"
)

func TestLocalPorts(t *testing.T) {
	out := `0      0          127.0.0.1:47400    127.0.0.1:8088  users:(("recpolicy",pid=1234,fd=12))
0      0          127.0.0.1:47406    127.0.0.1:8088  users:(("recpolicy",pid=12345,fd=13))
0      0          127.0.0.1:47412    127.0.0.1:8088  users:(("load",pid=99,fd=7))
0      0          127.0.0.1:47420    127.0.0.1:5038  users:(("recpolicy",pid=1234,fd=15))
0      0          127.0.0.1:47430    127.0.0.1:50388 users:(("recpolicy",pid=1234,fd=16))
0      0          [::1]:50000        [::1]:8088      users:(("recpolicy",pid=1234,fd=14))
garbage
`
	tests := []struct {
		pid, port int
		want      []string
	}{
		{1234, 8088, []string{"47400", "50000"}},
		{1234, 5038, []string{"47420"}},
		{12345, 8088, []string{"47406"}},
		{12345, 5038, nil},
		{7, 8088, nil},
	}
	for _, tt := range tests {
		if got := localPorts(out, tt.pid, tt.port); !slices.Equal(got, tt.want) {
			t.Errorf("localPorts(pid %d, port %d) = %v, want %v", tt.pid, tt.port, got, tt.want)
		}
	}
}
