// Package ingest brings the daemon's call records and recording metadata
// into the archive's PostgreSQL database, and never loses one when the
// database is down.
//
// Everything the daemon must archive — each Asterisk CDR (the AMI "Cdr"
// event, as plain key/value fields) and each filed recording — is first
// appended to a local spool directory: written to a temporary file,
// fsync'd, renamed to its sequence-numbered name and the directory fsync'd,
// before AddCDR or AddRecording returns. [Archive.Run] replays the spool
// into PostgreSQL in order, in batches, one transaction per batch, and
// removes a spool file only after the database has committed its rows.
// While PostgreSQL is unreachable the spool simply grows; Run retries with
// a capped exponential backoff and catches up when the database returns.
//
// Replay is exactly-once because every write is idempotent: a call record
// is keyed on (uniqueid, sequence, start time) — one call can yield several
// CDRs with one uniqueid, and Asterisk restarts the sequence counter — and
// a recording on its filed path; rows go in with INSERT … ON CONFLICT DO
// NOTHING. A crash after the commit and before the spool file is removed
// replays rows that are already there, and they are skipped.
//
// Nothing is silently dropped. A malformed Cdr event (a missing key field,
// a time or a number that does not parse) is logged with the raw event and
// appended to the quarantine file (quarantine.jsonl in the spool
// directory); an event with fields this package does not know is archived
// with those fields kept in the calls.extra column and also copied to the
// quarantine file, so the mapping can be fixed. A spooled row that
// PostgreSQL rejects for good (not a connection failure) is isolated from
// its batch and moved to the quarantine file with the database's error.
//
// Times are stored in UTC (timestamptz). The Cdr event's StartTime,
// AnswerTime and EndTime are the PBX's local wall time ("2026-11-28
// 05:05:15"): they are read in the time zone given to [Open].
//
// This package imports neither ami nor ari: the daemon converts its events
// and filed recordings into [Field] lists and [archive.Recording] values.
package ingest
