// Package rules reads, validates and applies the City of Mercier's
// call-recording rules file.
//
// The rules file is the one place where the city's telecom administrators
// state the policy of May 2019 ("Politique d'enregistrement des appels"):
// which extensions (Annexe A) are recorded, which phone must never be
// recorded (the detainee-to-lawyer phone), what makes a party external,
// how recordings are named, how long they are kept and when the retention
// and integrity jobs run.
//
// Parsing is strict, in the style of Prometheus' model/rulefmt: unknown
// keys, wrong types, repeated keys and every semantic mistake are errors,
// and every error of a file is reported at once, each as
// "file:line:col: message" naming the fix. A file with any error is
// rejected as a whole, so a typo can never make the daemon record a phone
// it must not, nor stop recording one it must: the daemon keeps running
// on the last good rules.
//
// Once loaded, a *Rules is immutable and safe for concurrent use. The
// decision functions ([Rules.Classify], [Rules.Decide], [Rules.Explain])
// are pure: they do no I/O.
package rules
