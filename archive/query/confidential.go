package query

import (
	"context"
	"fmt"

	"github.com/lib/pq"
	"github.com/villedemercier/recpolicy/archive/internal/pg"
)

// Confidential is the directors' filter. It hides a recording or call
// record when any call record or recording of its call (linkedid) involves
// one of Numbers or Endpoints (the confidential extensions of the rules in
// force). With Directors set, it also fails closed on what the archive
// cannot vouch for: a recording the daemon flagged as part of a call in
// which a confidential extension took part (whatever the rules say today),
// and one that cannot be tied to its call yet (no linkedid, or none of its
// call's records archived: still in the daemon's spool, or quarantined) —
// hidden until it can.
type Confidential struct {
	Numbers, Endpoints []string
	Directors          bool
}

func (c Confidential) empty() bool {
	return len(c.Numbers) == 0 && len(c.Endpoints) == 0 && !c.Directors
}

// hideRecordings adds the conditions that hide recordings of calls that
// involve a confidential extension, or cannot be shown not to.
func (c Confidential) hideRecordings(q *pg.Querier) {
	if c.empty() {
		return
	}
	nums, eps := q.Arg(pq.Array(pg.NonNil(c.Numbers))), q.Arg(pq.Array(pg.NonNil(c.Endpoints)))
	q.Add(fmt.Sprintf(`NOT (r.extension = ANY(%[1]s))
  AND NOT EXISTS (SELECT 1 FROM recordings r2 WHERE r.linkedid <> '' AND r2.linkedid = r.linkedid AND (r2.extension = ANY(%[1]s) OR r2.call_confidential))
  AND NOT EXISTS (SELECT 1 FROM calls c2 WHERE r.linkedid <> '' AND c2.linkedid = r.linkedid AND %[2]s)`,
		nums, pg.InvolvesSQL("c2", nums, eps)))
	if c.Directors {
		q.Add(`NOT r.call_confidential AND r.linkedid <> ''
  AND EXISTS (SELECT 1 FROM calls c3 WHERE c3.linkedid = r.linkedid)`)
	}
}

// hideCalls adds the conditions that hide call records of calls that
// involve a confidential extension, or cannot be shown not to.
func (c Confidential) hideCalls(q *pg.Querier) {
	if c.empty() {
		return
	}
	nums, eps := q.Arg(pq.Array(pg.NonNil(c.Numbers))), q.Arg(pq.Array(pg.NonNil(c.Endpoints)))
	q.Add(fmt.Sprintf(`NOT %[1]s
  AND NOT EXISTS (SELECT 1 FROM calls c2 WHERE c.linkedid <> '' AND c2.linkedid = c.linkedid AND %[2]s)
  AND NOT EXISTS (SELECT 1 FROM recordings r2 WHERE c.linkedid <> '' AND r2.linkedid = c.linkedid AND (r2.extension = ANY(%[3]s) OR r2.call_confidential))`,
		pg.InvolvesSQL("c", nums, eps), pg.InvolvesSQL("c2", nums, eps), nums))
	if c.Directors {
		q.Add(`c.linkedid <> ''`)
	}
}

// RecordingHidden tells whether the recording with row id is of a call that
// involves a confidential extension.
func (s *Store) RecordingHidden(ctx context.Context, id int64, c Confidential) (bool, error) {
	if c.empty() {
		return false, nil
	}
	q := pg.Querier{}
	q.Add("r.id = " + q.Arg(id))
	c.hideRecordings(&q)
	var visible bool
	if err := s.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM recordings r"+q.SQL()+")", q.Args...).Scan(&visible); err != nil {
		return false, fmt.Errorf("check recording %d: %w", id, err)
	}
	return !visible, nil
}
