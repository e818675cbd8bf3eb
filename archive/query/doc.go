// Package query answers the archive's read-only questions: call records
// and recordings matching a filter (dates, extensions, direction, number),
// a recording found by id or path, and whether a recording is hidden from
// directors because a confidential extension took part in its call.
//
// It decides nothing about who asks: the access guard (internal/access)
// builds the filters, and is the only caller outside the administrators'
// CLI.
package query
