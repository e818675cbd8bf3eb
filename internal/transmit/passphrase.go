package transmit

import (
	"crypto/rand"
	"strings"
)

// passphraseAlphabet leaves out letters and digits read alike aloud or on
// paper (0/o, 1/l/i): the passphrase is often read over the telephone.
const passphraseAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// NewPassphrase returns a random passphrase of six groups of five
// characters (about 148 bits), e.g. "k7mqa-x3ved-…"; it panics only if the
// system's random source fails.
func NewPassphrase() string {
	var b strings.Builder
	for g := range 6 {
		if g > 0 {
			b.WriteByte('-')
		}
		buf := make([]byte, 5)
		for i := range buf {
			buf[i] = passphraseAlphabet[randIndex(len(passphraseAlphabet))]
		}
		b.Write(buf)
	}
	return b.String()
}

// randIndex returns a uniform index in [0, n) by rejection sampling.
func randIndex(n int) int {
	limit := 256 - 256%n
	var one [1]byte
	for {
		if _, err := rand.Read(one[:]); err != nil {
			panic("transmit: system random source failed: " + err.Error())
		}
		if int(one[0]) < limit {
			return int(one[0]) % n
		}
	}
}
