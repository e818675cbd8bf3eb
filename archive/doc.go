// Package archive is recpolicy's store of call records and recordings'
// metadata in PostgreSQL: the connection pool and the schema, and the
// vocabulary its lifecycle packages share (a recording as filed and as
// stored, numbers, directions, files' problems).
//
// The archive is split by lifecycle, one package each, each with its own
// store built on [Store]:
//
//   - ingest: the daemon's call records and recordings' metadata, spooled
//     to disk and replayed into PostgreSQL (nothing lost while it is down);
//     the quarantine of what cannot be archived as it is;
//   - query: which calls and recordings match a filter, and which are
//     hidden from directors (confidential calls);
//   - retention: holds, the purge, destructions by hand and their log,
//     integrity checks, de-identified training copies;
//   - register: the register of written requests and the access log.
//
// SQL is written in these packages only (archive/internal/pg holds the
// pieces they share, such as what "a call involves extension X" means);
// the access guard (internal/access) decides who may call which.
//
// The schema is embedded in the binary and applied with goose (see
// [Store.Migrate]): tables calls and recordings, the view call_recordings
// (their link by linkedid) and the view cdr, which has the columns of
// Asterisk's own cdr table so that existing CDR viewers read it unchanged.
// Times are stored in UTC (timestamptz).
package archive
