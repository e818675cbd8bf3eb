// Package register keeps the policy's "Accès aux fichiers d'appels" in
// the database: the register of written requests (received, decided
// jointly with the Greffe, closed once the copies are destroyed) and the
// append-only access log, where every access and every refusal is written
// before anything is shown.
package register
