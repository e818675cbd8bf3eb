// Package sandbox drives the sandbox PBX for tests and the demo: it brings
// the sandbox up (docker/sandbox), places calls through the simulator's AMI
// (inbound from the carrier, outbound from an extension, internal, to the
// ring group, blind and attended transfers) and waits for them, returning
// the facts a test needs: when each call was answered (bridged) and hung up.
// It also measures tones in recordings, to prove both directions are in.
package sandbox
