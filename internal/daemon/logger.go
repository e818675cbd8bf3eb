package daemon

import (
	"io"
	"time"

	"github.com/rs/zerolog"
)

// LogTimeLayout is the layout of every log line's "time": UTC to the
// millisecond, so that a call's events (a dial, an answer, a recording's
// start) can be put in order from the log alone.
const LogTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// NewLogger returns the JSON logger of a service ("recpolicy",
// "recpolicy-console") writing to w at lvl; each line carries its time
// (LogTimeLayout) and the service's name.
func NewLogger(w io.Writer, lvl zerolog.Level, service string) zerolog.Logger {
	return zerolog.New(w).Level(lvl).Hook(stamp{}).With().Str("service", service).Logger()
}

// stamp adds the time to a log line as it is written (zerolog's own
// Timestamp has its layout in a package variable).
type stamp struct{}

// Run stamps e.
func (stamp) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	e.Str(zerolog.TimestampFieldName, time.Now().UTC().Format(LogTimeLayout))
}
