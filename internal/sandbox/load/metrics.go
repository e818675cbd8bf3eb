package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// scrape is one reading of the daemon's /metrics: every sample by its
// name and labels as written ("name{labels}").
type scrape map[string]float64

func scrapeMetrics(url string) (scrape, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the Prometheus text format, keeping the samples.
func parseMetrics(r io.Reader) (scrape, error) {
	s := scrape{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		s[line[:i]] = v
	}
	return s, sc.Err()
}

// sub returns s - before, sample by sample.
func (s scrape) sub(before scrape) scrape {
	d := scrape{}
	for k, v := range s {
		d[k] = v - before[k]
	}
	return d
}

// add returns s + other, sample by sample (the samples of either).
func (s scrape) add(other scrape) scrape {
	d := scrape{}
	for k, v := range s {
		d[k] = v
	}
	for k, v := range other {
		d[k] += v
	}
	return d
}

// bucket is one cumulative histogram bucket.
type bucket struct {
	le    float64
	count float64
}

// buckets returns a histogram's cumulative buckets, +Inf last.
func (s scrape) buckets(name string) []bucket {
	var out []bucket
	prefix := name + `_bucket{le="`
	for k, v := range s {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(rest, `"}`), 64)
		if err != nil {
			continue
		}
		out = append(out, bucket{le, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].le < out[j].le })
	return out
}

// quantile estimates the q-quantile of a histogram by linear interpolation
// inside the bucket that holds it (as Prometheus' histogram_quantile does).
// over is true when it lies past the last finite bound, which is returned.
func quantile(bs []bucket, q float64) (v float64, over bool, ok bool) {
	if len(bs) == 0 {
		return 0, false, false
	}
	total := bs[len(bs)-1].count
	if total <= 0 {
		return 0, false, false
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range bs {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return lower, true, true
			}
			if b.count == below {
				return b.le, false, true
			}
			return lower + (b.le-lower)*(rank-below)/(b.count-below), false, true
		}
		lower, below = b.le, b.count
	}
	return lower, true, true
}
