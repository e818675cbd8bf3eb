// Package packaging holds what installs recpolicy as a Debian service: the
// systemd units (systemd/), the maintainer scripts, the commented daemon
// configuration and the copyright file (debian/), the script that builds
// the .deb with dpkg-deb (build-deb, run by `make deb`), and the monitoring
// shipped with it: Prometheus alert rules with their unit tests (alerts/)
// and a Grafana dashboard (grafana/).
//
// It has no Go code to import: its tests check those files with the tools
// an administrator would use (promtool, systemd-analyze, dpkg-deb), and
// install the package in a clean Debian chroot against the sandbox PBX.
package packaging
