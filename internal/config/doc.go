// Package config loads the recpolicy daemon's configuration file: the
// endpoints of Asterisk's AMI and ARI, the database, the directories, and
// where each secret comes from. It is loaded once at start; the rules file,
// which reloads, is a separate file (package rules).
//
// Secrets never appear in the file itself: each is read from an environment
// variable or a file, and Config's String method never prints them.
package config
