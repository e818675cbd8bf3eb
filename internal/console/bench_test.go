package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"testing"
	"time"
)

// BenchmarkSearchMillion: the console's search over 1,000,000 recordings
// (and as many call records), through the guard, the confidentiality
// filter and the access log, as a director and as an administrator; the
// time to the first byte of a recording's audio; the console's heap.
//
//	go test -run '^$' -bench SearchMillion -benchtime 200x ./internal/console/
func BenchmarkSearchMillion(b *testing.B) {
	f := newFixture(b)
	db := f.st.DB()
	start := time.Now()
	// 1,000,000 recordings over a year, on 60 extensions, each with its call record.
	if _, err := db.Exec(`INSERT INTO calls (uniqueid, sequence, start_time, end_time, linkedid, source, source_flag, source_raw,
  destination, destination_flag, destination_raw, channel, destination_channel, duration, billable_seconds, disposition)
SELECT 'g' || i, 1, t, t + interval '3 minutes', 'G' || i, '514555' || lpad((i % 10000)::text, 4, '0'), 'ok', '514555' || lpad((i % 10000)::text, 4, '0'),
  (200 + i % 60)::text, 'ok', (200 + i % 60)::text, 'PJSIP/carrier-' || i, 'PJSIP/' || (200 + i % 60) || '-' || i, 180, 175, 'ANSWERED'
FROM (SELECT i, timestamptz '2025-12-01' + (i * interval '31 seconds') AS t FROM generate_series(1, 1000000) i) s`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO recordings (path, sha256, size, duration, extension, departments, direction, start_time, end_time,
  uniqueid, linkedid, retention_class)
SELECT '/var/lib/recpolicy/archive/g/' || i || '.wav', repeat('a', 64), 1440044, 180, (200 + i % 60)::text, '{}', 'inbound', t, t + interval '3 minutes',
  'g' || i || 'b', 'G' || i, 'standard'
FROM (SELECT i, timestamptz '2025-12-01' + (i * interval '31 seconds') AS t FROM generate_series(1, 1000000) i) s`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`ANALYZE calls; ANALYZE recordings`); err != nil {
		b.Fatal(err)
	}
	b.Logf("1,000,000 recordings and call records generated in %s", time.Since(start).Round(time.Second))
	director, admin := f.client(b), f.client(b)
	f.login(b, director, "jtremblay", password)
	f.login(b, admin, "mlaroche", password)
	for _, q := range []struct {
		name, who, query string
		c                *http.Client
	}{
		{"director", "jtremblay", "/api/recordings", director},
		{"director_month", "jtremblay", "/api/recordings?depuis=2026-03-01&jusqua=2026-03-31", director},
		{"admin_extension", "mlaroche", "/api/recordings?poste=235&direction=inbound", admin},
		{"admin_number", "mlaroche", "/api/recordings?numero=5145550042", admin},
	} {
		b.Run(q.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				code, body, _ := f.do(b, q.c, "GET", q.query, nil)
				lat = append(lat, time.Since(t0))
				if code != 200 {
					b.Fatalf("%s: %d %s", q.query, code, body)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		})
	}
	b.Run("audio_first_byte", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			_, body, _ := f.do(b, admin, "POST", fmt.Sprintf("/api/recordings/%d/ecoute", f.ids["police"]), map[string]any{"purpose": "statistiques"})
			var res struct{ Audio string }
			json.Unmarshal([]byte(body), &res)
			audio := res.Audio
			t0 := time.Now()
			code, _, _ := f.do(b, admin, "GET", audio, nil, "Range", "bytes=0-1023")
			lat = append(lat, time.Since(t0))
			if code != http.StatusPartialContent {
				b.Fatalf("audio: %d", code)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
	})
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("heap in use after the runs (test process: console, its test client and fixtures): %.1f MiB", float64(ms.HeapInuse)/(1<<20))
}
