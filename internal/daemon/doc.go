// Package daemon wires recpolicy's parts together for `recpolicy run`: the
// configuration, the rules (reloaded by building aside and swapping), the AMI
// and ARI clients, the core's tracker and filer, and the metrics and health
// endpoints. Every goroutine it starts has an owner and ends before Run
// returns.
package daemon
