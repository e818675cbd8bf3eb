package register

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The access log is a hash chain. Each row, in chain_seq order (1, 2, 3…),
// holds the hash of the row before it and its own hash: SHA-256 of the
// previous hash, a newline and the row's canonical form (the JSON of
// chainEntry: its chain_seq, time in UTC to the microsecond, login, role,
// action, object, request, purpose, outcome and detail with sorted keys).
// Rows are appended one at a time under a transaction-scoped advisory
// lock, so the chain has one order whatever the writers (daemon, console,
// CLI). PostgreSQL's triggers refuse UPDATE, DELETE and TRUNCATE; the
// chain shows what a superuser did anyway.

// genesis is the previous hash of the first row.
var genesis = strings.Repeat("0", 64)

// chainLock is the advisory lock key that serialises appends ("rpaccess").
const chainLock int64 = 0x7270616363657373

// ErrChainBroken: the access log's hash chain does not hold (see
// ChainReport.Breaks).
var ErrChainBroken = errors.New("access log chain broken")

// chainEntry is the canonical form of a row: its fields in a fixed order.
type chainEntry struct {
	Seq       int64           `json:"seq"`
	At        string          `json:"at"`
	Login     string          `json:"login"`
	Role      string          `json:"role"`
	Action    string          `json:"action"`
	Object    string          `json:"object"`
	RequestID *int64          `json:"request_id"`
	Purpose   string          `json:"purpose"`
	Outcome   string          `json:"outcome"`
	Detail    json.RawMessage `json:"detail"`
}

// canonicalDetail returns detail (JSON) with sorted keys and no spaces,
// as Go writes it: the same bytes whether it comes from the caller or back
// from PostgreSQL's jsonb.
func canonicalDetail(detail []byte) ([]byte, error) {
	if len(bytes.TrimSpace(detail)) == 0 {
		return []byte("{}"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(detail))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// chainHash returns a row's hash.
func chainHash(prev string, seq int64, at time.Time, e AccessEntry, detail []byte) (string, error) {
	canon, err := canonicalDetail(detail)
	if err != nil {
		return "", fmt.Errorf("detail: %w", err)
	}
	b, err := json.Marshal(chainEntry{Seq: seq, At: at.UTC().Format("2006-01-02T15:04:05.000000Z"), Login: e.Login, Role: e.Role,
		Action: e.Action, Object: e.Object, RequestID: e.RequestID, Purpose: e.Purpose, Outcome: e.Outcome, Detail: canon})
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte("\n"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// appendChained inserts e (detail as JSON) at the chain's end.
func (s *Store) appendChained(ctx context.Context, e AccessEntry, detail []byte) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, chainLock); err != nil {
		return 0, err
	}
	var seq int64
	prev := genesis
	err = tx.QueryRowContext(ctx, `SELECT chain_seq, hash FROM access_log WHERE chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	seq++
	at := time.Now().UTC().Truncate(time.Microsecond)
	hash, err := chainHash(prev, seq, at, e, detail)
	if err != nil {
		return 0, err
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO access_log (at, login, role, action, object, request_id, purpose, outcome, detail, chain_seq, prev_hash, hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		at, e.Login, e.Role, e.Action, e.Object, e.RequestID, e.Purpose, e.Outcome, string(detail), seq, prev, hash).Scan(&id)
	if err != nil {
		return 0, err
	}
	return id, tx.Commit()
}

// ChainBreak is one place where the access log's chain does not hold.
type ChainBreak struct {
	Seq    int64  `json:"seq"`
	ID     int64  `json:"id"`
	Kind   string `json:"kind"` // BreakUnchained, BreakMissing, BreakRelinked or BreakAltered
	Reason string `json:"reason"`
}

// Kinds of chain break.
const (
	BreakUnchained = "unchained" // a row written after the chain began, outside it
	BreakMissing   = "missing"   // rows of the chain removed
	BreakRelinked  = "relinked"  // a row's link to the one before does not hold
	BreakAltered   = "altered"   // a row's content does not match its hash
)

// ChainReport is what VerifyAccessLog found.
type ChainReport struct {
	Rows     int64        `json:"rows"`     // chained rows checked
	Unsealed int64        `json:"unsealed"` // rows written before the chain began (not provable)
	HeadSeq  int64        `json:"head_seq"` // the last row's chain_seq…
	HeadHash string       `json:"head_hash"`
	Breaks   []ChainBreak `json:"breaks,omitempty"`
}

// OK reports whether the chain holds.
func (r *ChainReport) OK() bool { return len(r.Breaks) == 0 }

// maxBreaks caps the breaks reported (the first ones say where to look).
const maxBreaks = 100

// VerifyAccessLog walks the whole chain and recomputes every hash: a row
// altered (its hash no longer matches), removed (a gap in chain_seq, or
// the next row's prev_hash naming another), or slipped in (an unchained
// row after the chain began) is a break. The head (last seq and hash) is
// reported: kept elsewhere (the daemon's log prints it at each integrity
// check), it shows that no row was removed from the end.
func (s *Store) VerifyAccessLog(ctx context.Context) (*ChainReport, error) {
	rep := &ChainReport{HeadHash: genesis}
	var firstChained sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT min(id) FROM access_log WHERE chain_seq IS NOT NULL`).Scan(&firstChained); err != nil {
		return nil, fmt.Errorf("verify access log: %w", err)
	}
	q := `SELECT count(*) FROM access_log WHERE chain_seq IS NULL`
	var args []any
	if firstChained.Valid {
		q += ` AND id < $1`
		args = append(args, firstChained.Int64)
	}
	if err := s.db.QueryRowContext(ctx, q, args...).Scan(&rep.Unsealed); err != nil {
		return nil, fmt.Errorf("verify access log: %w", err)
	}
	brk := func(b ChainBreak) {
		if len(rep.Breaks) < maxBreaks {
			rep.Breaks = append(rep.Breaks, b)
		}
	}
	if firstChained.Valid {
		rows, err := s.db.QueryContext(ctx, `SELECT id FROM access_log WHERE chain_seq IS NULL AND id > $1 ORDER BY id`, firstChained.Int64)
		if err != nil {
			return nil, fmt.Errorf("verify access log: %w", err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("verify access log: %w", err)
			}
			brk(ChainBreak{ID: id, Kind: BreakUnchained, Reason: "row without a place in the chain, written after the chain began"})
		}
		rows.Close()
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, at, login, role, action, object, request_id, purpose, outcome, detail, chain_seq, prev_hash, hash
FROM access_log WHERE chain_seq IS NOT NULL ORDER BY chain_seq`)
	if err != nil {
		return nil, fmt.Errorf("verify access log: %w", err)
	}
	defer rows.Close()
	prev, want := genesis, int64(1)
	for rows.Next() {
		var e AccessEntry
		var detail []byte
		var seq int64
		var prevHash, hash string
		if err := rows.Scan(&e.ID, &e.At, &e.Login, &e.Role, &e.Action, &e.Object, &e.RequestID, &e.Purpose, &e.Outcome, &detail,
			&seq, &prevHash, &hash); err != nil {
			return nil, fmt.Errorf("verify access log: %w", err)
		}
		rep.Rows++
		if seq != want {
			brk(ChainBreak{Seq: seq, ID: e.ID, Kind: BreakMissing, Reason: fmt.Sprintf("rows %d to %d of the chain are missing", want, seq-1)})
		}
		if prevHash != prev {
			brk(ChainBreak{Seq: seq, ID: e.ID, Kind: BreakRelinked, Reason: "its previous hash is not the hash of the row before it: a row before it was removed or altered"})
		}
		got, err := chainHash(prevHash, seq, e.At, e, detail)
		if err != nil || got != hash {
			brk(ChainBreak{Seq: seq, ID: e.ID, Kind: BreakAltered, Reason: "its content does not match its hash: the row was altered"})
		}
		prev, want = hash, seq+1
		rep.HeadSeq, rep.HeadHash = seq, hash
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("verify access log: %w", err)
	}
	return rep, nil
}
