// Package amitest provides a fake Asterisk Manager Interface server for
// tests of code built on package ami.
//
// The server listens on 127.0.0.1 on a free port, sends the AMI banner,
// checks Login against a configurable secret, answers Ping (unless told not
// to), Logoff and CoreStatus itself, and passes every other action to a
// Handler. Tests can push events to logged-in sessions, drop connections,
// simulate an Asterisk restart and stop answering pings.
package amitest
