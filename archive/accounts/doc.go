// Package accounts keeps the console's local accounts (login, argon2id
// password hash, disabled, failed logins and lock-out) and its server-side
// sessions (the SHA-256 of each cookie's token, never the token, with idle
// and absolute expiry) in the archive's database.
//
// It stores; it does not decide. Password hashing and the login rules
// (throttling, lock-out) are internal/auth's; who may see what is
// internal/access's.
package accounts
