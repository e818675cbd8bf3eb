// Package retention keeps what the policy asks of the archive's end of
// life: holds, the purge, destructions by hand, the destruction log,
// integrity checks and de-identified training copies.
//
// Recordings and call records are kept at least one year (the rules file's
// retention classes, each at least 365 days), from the call's end time as
// the database holds it (UTC), never from a file's time. A hold keeps what
// it covers while it is active and for its class's duration after its
// release. A file is destroyed only when its row is in the database, its
// checksum matches, and a "pending" row of the destruction log is committed;
// the row then turns "done". A file the archive does not know is reported,
// never deleted.
package retention
