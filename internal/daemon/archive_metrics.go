package daemon

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/villedemercier/recpolicy/archive/ingest"
)

// archiveCollector exposes the archive's replay on /metrics: whether the
// database answers, the records waiting in the spool, the failures by
// cause (a SQLSTATE such as 42501 for a revoked privilege, 25006 for a
// read-only server, 28P01 for a rotated password, or "connection"), and
// the records quarantined. Values are read at scrape time.
type archiveCollector struct {
	arch        *ingest.Archive
	up          *prometheus.Desc
	spooled     *prometheus.Desc
	failures    *prometheus.Desc
	quarantined *prometheus.Desc
}

func newArchiveCollector(a *ingest.Archive) *archiveCollector {
	return &archiveCollector{
		arch: a,
		up:   prometheus.NewDesc("recpolicy_archive_database_up", "1 when the archive's last attempt to reach or write PostgreSQL worked.", nil, nil),
		spooled: prometheus.NewDesc("recpolicy_archive_spooled_records",
			"Records (call records, recording metadata, rules versions) waiting in the durable spool for the database.", nil, nil),
		failures: prometheus.NewDesc("recpolicy_archive_write_failures_total",
			"Failed connections and batch writes to PostgreSQL by cause (SQLSTATE or connection); each is retried, the records stay spooled.", []string{"cause"}, nil),
		quarantined: prometheus.NewDesc("recpolicy_archive_quarantined_total",
			"Records put in the quarantine file since the daemon started (a row that can never be valid).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *archiveCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.spooled
	ch <- c.failures
	ch <- c.quarantined
}

// Collect implements prometheus.Collector.
func (c *archiveCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.arch.Stats()
	up := 0.0
	if st.DatabaseUp {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
	if n, err := c.arch.Backlog(); err == nil {
		ch <- prometheus.MustNewConstMetric(c.spooled, prometheus.GaugeValue, float64(n))
	}
	for cause, n := range st.WriteFailures {
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(n), cause)
	}
	ch <- prometheus.MustNewConstMetric(c.quarantined, prometheus.CounterValue, float64(st.Quarantined))
}
