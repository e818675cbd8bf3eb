package retention

import (
	"github.com/villedemercier/recpolicy/archive/internal/pg"
)

// The retention queries share their first three parameters: $1 the class
// names, $2 their durations in seconds, $3 the time "now" (UTC).
const classesCTE = `cls(name, secs) AS (SELECT * FROM unnest($1::text[], $2::float8[]))`

// holdInForce is true for a hold h that still keeps what it covers: not
// released, or released less than its class's duration ago, taking the
// longer of the duration when the hold was placed (keep_secs) and today's:
// shortening a class in the rules never shortens a hold. A hold whose class
// the rules file no longer defines keeps it (never destroy on doubt).
const holdInForce = `(h.released_at IS NULL
   OR h.released_at + make_interval(secs => h.keep_secs) > $3
   OR NOT EXISTS (SELECT 1 FROM cls hc WHERE hc.name = h.retention_class)
   OR EXISTS (SELECT 1 FROM cls hc WHERE hc.name = h.retention_class
              AND h.released_at + make_interval(secs => hc.secs) > $3))`

// recordingHeld is true when a hold in force covers recording r.
const recordingHeld = `EXISTS (SELECT 1 FROM holds h WHERE ` + holdInForce + ` AND (
     (h.kind = 'recording' AND h.recording_id = r.id)
  OR (h.kind = 'linkedid' AND h.linkedid = r.linkedid)
  OR (h.kind = 'extension' AND h.extension = r.extension
      AND r.start_time < h.until AND COALESCE(r.end_time, r.start_time) >= h.since)))`

// callHeld is true when a hold in force covers call record c: a hold of
// its linkedid or of one of its recordings, or of one of its extensions
// over its time.
var callHeld = `EXISTS (SELECT 1 FROM holds h WHERE ` + holdInForce + ` AND (
     (h.kind IN ('recording', 'linkedid') AND h.linkedid <> '' AND h.linkedid = c.linkedid)
  OR (h.kind = 'extension' AND c.start_time < h.until AND c.end_time >= h.since
      AND ` + pg.InvolvesOneSQL("c", "h.extension", "h.endpoint") + `)))`

// recordingEnd is the origin of a recording's age.
const recordingEnd = `COALESCE(r.end_time, r.start_time)`

// recordingDue is true when recording r's retention has run out (its class
// is joined as cls c).
const recordingDue = recordingEnd + ` + make_interval(secs => rc.secs) <= $3`

// callDue returns the condition true when call record c's retention (the
// standard class, $4 seconds) has run out and no recording of its call is
// left but those of the bigint[] parameter gone (recordings a dry run
// would destroy).
func callDue(gone string) string {
	return `c.end_time + make_interval(secs => $4) <= $3
  AND NOT (c.linkedid <> '' AND EXISTS (SELECT 1 FROM recordings r WHERE r.linkedid = c.linkedid
                                        AND NOT r.id = ANY(` + gone + `::bigint[])))`
}
