package ingest

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkInsertCalls measures archive throughput: call records per second
// written to PostgreSQL in batches of 2000 (one transaction each).
func BenchmarkInsertCalls(b *testing.B) {
	a := openTest(b, testDB(b), nil)
	if err := a.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	const batch = 2000
	cdrs := make([]*CDR, 0, batch)
	b.ResetTimer()
	start := time.Now()
	rows := 0
	for i := 0; i < b.N; i++ {
		cdrs = cdrs[:0]
		for j := 0; j < batch; j++ {
			c, _, err := ParseCDR(synthCDR(fmt.Sprintf("bench%d", i), j), time.UTC)
			if err != nil {
				b.Fatal(err)
			}
			cdrs = append(cdrs, &c)
		}
		ins, err := NewStore(a.store).InsertBatch(b.Context(), cdrs, nil)
		if err != nil {
			b.Fatal(err)
		}
		rows += int(ins.Calls)
	}
	b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkReplay10k measures the replay of a spool of 10,000 call
// records, one spool file each as AddCDR writes them: from the database's
// return to an empty spool.
func BenchmarkReplay10k(b *testing.B) {
	dsn := testDB(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a := openTest(b, dsn, nil)
		if err := a.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		spoolSynth(b, a, fmt.Sprintf("replay%d", i), 10000, 1)
		b.StartTimer()
		start := time.Now()
		for {
			n, err := a.replayBatch(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/10k-replay")
		b.StopTimer()
		if rows, _ := countCalls(b, a); rows != 10000*(i+1) {
			b.Fatalf("rows %d", rows)
		}
	}
}

// BenchmarkAddCDR measures the spool's durable append (fsync'd file and
// directory) per Cdr event.
func BenchmarkAddCDR(b *testing.B) {
	a := openTest(b, offlineDSN, nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := a.AddCDR(synthCDR("add", i)); err != nil {
			b.Fatal(err)
		}
	}
}
