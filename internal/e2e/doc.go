// Package e2e holds recpolicy's end-to-end tests: the real daemon against the
// sandbox PBX (two Asterisk 22 instances) and PostgreSQL. TestMain starts the
// sandbox when it is not running and fails loudly when it cannot; nothing
// here skips because a part is missing.
package e2e
