package daemon

import (
	"golang.org/x/sys/unix"

	"github.com/prometheus/client_golang/prometheus"
)

// diskCollector exposes the free and total space of the file systems the
// daemon writes to (the archive, the durable spool, the recording spool),
// read with statfs(2) at scrape time: a full archive stops filing, a full
// spool stops archiving.
type diskCollector struct {
	areas map[string]string // area name → folder
	free  *prometheus.Desc
	size  *prometheus.Desc
}

func newDiskCollector(areas map[string]string) *diskCollector {
	return &diskCollector{
		areas: areas,
		free: prometheus.NewDesc("recpolicy_disk_free_bytes",
			"Space available to the daemon on the file system of each area it writes (archive, spool, recordings: Asterisk's recording folder).", []string{"area"}, nil),
		size: prometheus.NewDesc("recpolicy_disk_size_bytes", "Size of the file system of each area.", []string{"area"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *diskCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.free
	ch <- c.size
}

// Collect implements prometheus.Collector; an area that cannot be read is
// left out (its absence is itself what an alert on absent() sees).
func (c *diskCollector) Collect(ch chan<- prometheus.Metric) {
	for area, dir := range c.areas {
		if dir == "" {
			continue
		}
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			continue
		}
		bs := float64(st.Bsize)
		ch <- prometheus.MustNewConstMetric(c.free, prometheus.GaugeValue, float64(st.Bavail)*bs, area)
		ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(st.Blocks)*bs, area)
	}
}
