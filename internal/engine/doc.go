// Package engine is the recording engine: the only place that joins
// Asterisk's events, the rules' decisions and the recorders. The recorder
// backends live in its subpackages mixmonitor (AMI MixMonitor) and snoop
// (ARI snoop channels); both implement Recorder.
//
// The Tracker follows channels, dials and bridges from AMI events and, for
// every pairing, asks the rules snapshot the call started with whether an
// Annexe A extension is talking with an external party. It starts a
// recording on that extension's channel as soon as the channel exists (at
// DialBegin, before answer, so nothing after answer is lost), stops it when
// the pairing changes to one the policy does not record, and hands each
// finished recording to the Filer, which waits until Asterisk has closed the
// file, repairs a WAV header left unfinished by a crash, discards recordings
// that hold no audio, and files the rest under the policy's name.
package engine
