package main

import (
	"math"
	"strings"
	"testing"
)

func TestQuantileInterpolates(t *testing.T) {
	s, err := parseMetrics(strings.NewReader(`# HELP x
recpolicy_recording_start_seconds_bucket{le="0.001"} 0
recpolicy_recording_start_seconds_bucket{le="0.002"} 10
recpolicy_recording_start_seconds_bucket{le="0.005"} 90
recpolicy_recording_start_seconds_bucket{le="0.01"} 100
recpolicy_recording_start_seconds_bucket{le="+Inf"} 100
recpolicy_recording_start_seconds_count 100
`))
	if err != nil {
		t.Fatal(err)
	}
	bs := s.buckets("recpolicy_recording_start_seconds")
	if len(bs) != 5 {
		t.Fatalf("buckets %v", bs)
	}
	// rank 50 lies in (0.002, 0.005]: 40 of its 80 → 0.0035.
	if v, over, ok := quantile(bs, 0.5); !ok || over || v < 0.00349 || v > 0.00351 {
		t.Errorf("p50 = %v %v %v", v, over, ok)
	}
	// rank 99 lies in (0.005, 0.01]: 9 of its 10 → 0.0095.
	if v, _, _ := quantile(bs, 0.99); v < 0.00949 || v > 0.00951 {
		t.Errorf("p99 = %v", v)
	}
}

func TestQuantilePastLastBound(t *testing.T) {
	bs := []bucket{{1, 1}, {2, 1}, {inf(), 10}}
	if v, over, _ := quantile(bs, 0.5); !over || v != 2 {
		t.Errorf("p50 = %v over=%v, want > 2", v, over)
	}
}

func TestEndpointOf(t *testing.T) {
	for in, want := range map[string]string{"PJSIP/235-0000001a": "235", "PJSIP/carrier-00000001": "carrier", "Local/x@y-1;1": ""} {
		if got := endpointOf(in); got != want {
			t.Errorf("endpointOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func inf() float64 { return math.Inf(1) }
