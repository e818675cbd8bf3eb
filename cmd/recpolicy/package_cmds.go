package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/internal/config"
	"github.com/villedemercier/recpolicy/internal/fulfil"
	"github.com/villedemercier/recpolicy/internal/transmit"
)

// readSecretFile reads a passphrase: the first line of a file (never on
// the command line, where ps shows it).
func readSecretFile(flagName, path string) (string, error) {
	if path == "" {
		return "", badUsage("%s FILE is required: a file holding the passphrase on its first line (give the passphrase to the requester apart, e.g. by telephone)", flagName)
	}
	pass, err := config.Secret{File: path}.Resolve() // the config's secrets are read the same way
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	return pass, nil
}

// packageKeygen runs `recpolicy package keygen --out FILE`.
func packageKeygen(_ context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy package keygen"
	fs, _ := commandFlags(name, stderr)
	out := fs.String("out", "", "the new private key's file (mode 0600; never written over)")
	if rc := parseFlagsOnly(fs, args, stderr, name); rc != 0 {
		return rc
	}
	if *out == "" {
		return exitCode(stderr, name, badUsage("--out FILE is required, e.g. --out /etc/recpolicy/signing-key.pem"))
	}
	pubPEM, err := transmit.GenerateKey(*out)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	pub, _ := transmit.ParsePublicPEM(pubPEM)
	fmt.Fprintf(stdout, "%s", pubPEM)
	fmt.Fprintf(stdout, "fingerprint (publish it for requesters): %s\nset archive.signing_key: %s in the daemon config\n", transmit.Fingerprint(pub), *out)
	return 0
}

// packageVerify runs `recpolicy package verify FILE --passphrase-file P
// [--public-key PEM]`: what a requester runs to check a package.
func packageVerify(_ context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy package verify"
	fs, _ := commandFlags(name, stderr)
	passFile := fs.String("passphrase-file", "", "a file holding the package's passphrase (required)")
	pubFile := fs.String("public-key", "", "the city's public key (PEM); without it, the key in the package is used and its fingerprint shown, to compare with the city's")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		return exitCode(stderr, name, badUsage("name one package: %s FILE.age --passphrase-file P", name))
	}
	pass, err := readSecretFile("--passphrase-file", *passFile)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	var pub ed25519.PublicKey
	if *pubFile != "" {
		b, err := os.ReadFile(*pubFile)
		if err != nil {
			return exitCode(stderr, name, err)
		}
		if pub, err = transmit.ParsePublicPEM(b); err != nil {
			return exitCode(stderr, name, fmt.Errorf("--public-key %s: %w", *pubFile, err))
		}
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer f.Close()
	v, err := transmit.Verify(f, pass, pub)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	m := v.Manifest
	fmt.Fprintf(stdout, "OK: request %d (%s), for %s, made %s by %s; %d recordings intact\n", m.Request.ID, m.Request.Purpose, m.Recipient,
		m.CreatedAt.Format(time.RFC3339), m.CreatedBy, len(m.Files))
	fmt.Fprintf(stdout, "signed by the key %s", v.Fingerprint)
	if pub == nil {
		fmt.Fprint(stdout, " (the package's own: compare it with the fingerprint the city publishes)")
	}
	fmt.Fprintf(stdout, "\ndestroy the copies by %s, then confirm it to the city\n", m.DueOn)
	return 0
}

// requestsPackage runs `recpolicy requests package N …`: the recordings of
// a granted request, each handed over by the guard (logged with the
// request), in a signed and encrypted package; the register keeps what
// left, to whom, how, when and the package's SHA-256.
func requestsPackage(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy requests package"
	fs, cfgFile := commandFlags(name, stderr)
	to := fs.String("to", "", "who receives it (required)")
	via := fs.String("via", "", "how it leaves: courriel, remise en main propre, clé USB… (required)")
	out := fs.String("out", "", "the package's new file, e.g. demande-12.tar.age (required)")
	passFile := fs.String("passphrase-file", "", "a file holding the passphrase (16 characters or more; required)")
	destroyBy := fs.String("destroy-by", "", "the date by which the holder destroys the copies (default: 90 days from today)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		return exitCode(stderr, name, badUsage("name one request: %s N --config FILE --to NAME --via HOW --out FILE --passphrase-file P", name))
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return exitCode(stderr, name, badUsage("%q is not a request number (recpolicy requests list)", pos[0]))
	}
	switch {
	case strings.TrimSpace(*to) == "" || strings.TrimSpace(*via) == "":
		return exitCode(stderr, name, badUsage("--to NAME and --via HOW are required (the register keeps them)"))
	case *out == "":
		return exitCode(stderr, name, badUsage("--out FILE is required"))
	}
	create, err := outFile(*out)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	pass, err := readSecretFile("--passphrase-file", *passFile)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	if len([]rune(pass)) < transmit.MinPassphrase {
		return exitCode(stderr, name, badUsage("%v: choose a longer one (several words)", transmit.ErrWeakPassphrase))
	}
	due := time.Now().AddDate(0, 0, 90)
	if *destroyBy != "" {
		if due, err = time.Parse(time.DateOnly, *destroyBy); err != nil || due.Before(time.Now()) {
			return exitCode(stderr, name, badUsage("--destroy-by %q: a date to come, e.g. 2027-03-31", *destroyBy))
		}
	}
	env, err := retentionEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	if env.cfg.SigningKeyFile() == "" {
		return exitCode(stderr, name, fulfil.ErrNoSigningKey)
	}
	key, err := transmit.LoadKey(env.cfg.SigningKeyFile())
	if err != nil {
		return exitCode(stderr, name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	t, res, err := fulfil.Fulfil(ctx, fulfil.Deps{Guard: env.guard, Register: env.register, ArchiveDir: env.cfg.Archive.Dir, Key: key},
		fulfil.Order{RequestID: id, To: *to, Via: *via, DestroyBy: due, By: env.login(), Passphrase: pass, Action: name},
		func() (*os.File, error) { return create(*out) })
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	m := res.Manifest
	fmt.Fprintf(stdout, "transmission %d: request %d, %d recordings, to %s by %s\npackage %s (%d bytes), sha256 %s\n", t.ID, id, len(m.Files), *to, *via, *out, res.Size, res.SHA256)
	fmt.Fprintf(stdout, "signed by the key %s; give the passphrase to %s apart (by telephone, in person)\ndestroy by %s: recpolicy requests confirm-destruction %d --transmission %d --statement TEXT when the holder confirms it\n",
		m.KeyFinger, *to, m.DueOn, id, t.ID)
	return 0
}

// requestsCopies runs `recpolicy requests copies [--outstanding]`: what
// left, and whose destruction is not confirmed, the earliest due first.
func requestsCopies(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy requests copies"
	fs, cfgFile := commandFlags(name, stderr)
	outstanding := fs.Bool("outstanding", false, "only those whose destruction the holder has not confirmed")
	asJSON := fs.Bool("json", false, "print JSON")
	if rc := parseFlagsOnly(fs, args, stderr, name); rc != 0 {
		return rc
	}
	env, err := retentionEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	ts, err := env.register.ListTransmissions(ctx, register.TransmissionFilter{Outstanding: *outstanding})
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if *asJSON {
		return writeJSON(stdout, stderr, name, ts)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREQUEST\tTO\tVIA\tSENT\tDESTROY BY\tDESTRUCTION")
	today := time.Now()
	for _, t := range ts {
		state := "confirmed: " + strDeref(t.DestroyedStatement)
		if t.Outstanding() {
			state = "outstanding"
			if t.DestroyBy.Before(today) {
				state = "OVERDUE"
			}
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.RequestID, t.Recipient, t.Channel, t.CreatedAt.In(env.rules.Location()).Format("2006-01-02"),
			t.DestroyBy.Format(time.DateOnly), state)
	}
	tw.Flush()
	return 0
}

func strDeref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// requestsConfirm runs `recpolicy requests confirm-destruction N
// --transmission T --statement TEXT`.
func requestsConfirm(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "recpolicy requests confirm-destruction"
	fs, cfgFile := commandFlags(name, stderr)
	tid := fs.Int64("transmission", 0, "the transmission whose copies the holder destroyed (recpolicy requests copies)")
	statement := fs.String("statement", "", "the holder's confirmation, as received (required)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	reqID, err := strconv.ParseInt(strings.TrimSpace(strings.Join(pos, "")), 10, 64)
	if len(pos) != 1 || err != nil || reqID <= 0 || *tid <= 0 {
		return exitCode(stderr, name, badUsage("usage: %s N --transmission T --statement TEXT --config FILE", name))
	}
	env, err := retentionEnv(ctx, *cfgFile, name)
	if err != nil {
		return exitCode(stderr, name, err)
	}
	defer env.store.Close()
	ts, err := env.register.ListTransmissions(ctx, register.TransmissionFilter{RequestID: reqID})
	if err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	found := false
	for _, t := range ts {
		found = found || t.ID == *tid
	}
	if !found {
		return exitCode(stderr, name, badUsage("transmission %d is not one of request %s's (recpolicy requests copies)", *tid, pos[0]))
	}
	if err := env.register.ConfirmDestroyed(ctx, *tid, *statement, env.login()); err != nil {
		return exitCode(stderr, name, dbHint(err, *cfgFile))
	}
	if err := env.audit(ctx, name, pos[0], "", nil, register.Granted, map[string]any{"transmission": *tid}); err != nil {
		return exitCode(stderr, name, err)
	}
	fmt.Fprintf(stdout, "transmission %d: destruction confirmed\n", *tid)
	return 0
}
