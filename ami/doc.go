// Package ami speaks the Asterisk Manager Interface (AMI) protocol of
// Asterisk 22 over TCP.
//
// It has three layers:
//
//   - [Message] and [Parser]: a zero-copy parser for the AMI wire format
//     ("Key: Value" lines terminated by a blank line). A parsed message owns
//     one copy of its raw bytes; every accessor returns strings that alias
//     those immutable bytes, so [Message.Get] does not allocate.
//   - Action encoding: actions are validated before anything is written
//     (no CR or LF in keys or values, lines of at most 1024 bytes, at most
//     128 headers), so a bad value can never inject a second action.
//   - [Client]: a long-lived connection that logs in, keeps the session alive
//     with Ping, matches responses to actions by ActionID, collects list
//     actions ([Client.List]) and reconnects with capped exponential backoff.
//     Events are parsed by a reader goroutine that never waits for the
//     consumer (Asterisk drops a session whose reader stalls), queued in an
//     unbounded in-memory queue and delivered in order on the channel
//     returned by [Client.Notifications].
//
// The package knows nothing of recording policy, files or databases.
//
// Values that Asterisk C-escapes (CallerIDName, ConnectedLineName,
// ChanVariable, VarSet values...) are returned as sent; callers that want the
// original text use [Unescape].
package ami
