// Package auth decides who logs in to the console: local accounts
// (argon2id password hashes kept by archive/accounts), with throttling of
// repeated failures per client and lock-out of an account after failures
// in a row. It says who someone is; what they may see is internal/access's.
package auth
