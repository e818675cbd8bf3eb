// Package transmit makes and checks the transmission packages by which
// copies of recordings leave the city for a granted written request: the
// recordings and a manifest (the request, each file's size and SHA-256,
// times, who made it) signed with the city's Ed25519 key, in a tar, the
// whole encrypted with a passphrase given to the requester out of band
// (filippo.io/age, scrypt recipient). The requester opens it with Debian's
// age tool and checks it with openssl or sha256sum (LISEZMOI.txt in the
// package says how), or with `recpolicy package verify`.
//
// It writes no SQL and decides nothing about access: the CLI asks the
// access guard for each recording and the register keeps what left.
package transmit
