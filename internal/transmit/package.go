package transmit

import (
	"archive/tar"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
)

// Format names this package's layout.
const Format = "recpolicy-transmission/1"

// Names inside the tar.
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.json.sig" // base64 of the Ed25519 signature of manifest.json
	PublicKeyName = "cle-publique.pem"
	SumsName      = "SHA256SUMS"
	ReadmeName    = "LISEZMOI.txt"
	recordingsDir = "enregistrements/"
)

// MinPassphrase is the shortest passphrase a package takes.
const MinPassphrase = 16

// Errors; test with errors.Is.
var (
	// ErrWeakPassphrase: a passphrase shorter than MinPassphrase.
	ErrWeakPassphrase = fmt.Errorf("passphrase shorter than %d characters", MinPassphrase)
	// ErrTampered: the package does not hold what its signed manifest says.
	ErrTampered = errors.New("package altered")
)

// Request is the register's request, as the manifest names it.
type Request struct {
	ID         int64  `json:"id"`
	ReceivedOn string `json:"received_on"`
	Requester  string `json:"requester"`
	Purpose    string `json:"purpose"`
	Subject    string `json:"subject"`
}

// FileEntry is one recording in the manifest.
type FileEntry struct {
	Name        string    `json:"name"`
	RecordingID int64     `json:"recording_id"`
	Extension   string    `json:"extension"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end,omitzero"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
}

// Manifest is what the package says of itself, signed.
type Manifest struct {
	Format    string      `json:"format"`
	Issuer    string      `json:"issuer"`
	Request   Request     `json:"request"`
	Recipient string      `json:"recipient"`
	Channel   string      `json:"channel"`
	CreatedAt time.Time   `json:"created_at"`
	CreatedBy string      `json:"created_by"`
	DueOn     string      `json:"destroy_by"` // the date by which the holder destroys the copies
	Files     []FileEntry `json:"files"`
	KeyFinger string      `json:"signing_key_sha256"`
	Notice    string      `json:"notice"`
}

// Source is one recording to put in a package: its manifest entry (Name
// is the file's base name) and its content, which must match the entry's
// size and SHA-256.
type Source struct {
	Entry FileEntry
	Open  func() (io.ReadCloser, error)
}

// Result is what Build made.
type Result struct {
	Manifest       Manifest
	ManifestSHA256 string
	SHA256         string // of the encrypted package, as sent
	Size           int64
}

// notice is the manifest's reminder of the policy.
const notice = "Copie d'enregistrements d'appels de la Ville de Mercier transmise pour le traitement de la demande écrite nommée ci-dessus. " +
	"Selon la Politique sur l'enregistrement des appels (2019), tout détenteur détruit ces fichiers lorsqu'ils ne sont plus nécessaires " +
	"aux fins de la demande, et au plus tard à la date indiquée (destroy_by), puis le confirme à la Direction des communications et des TI."

// Build writes the encrypted package to w: a tar of the manifest, its
// signature, the public key, SHA256SUMS, LISEZMOI.txt and the recordings,
// encrypted with passphrase. Each recording is hashed as it is copied and
// must match its entry: a file changed since it was archived stops the
// package.
func Build(w io.Writer, m Manifest, sources []Source, key ed25519.PrivateKey, passphrase string) (Result, error) {
	if len([]rune(passphrase)) < MinPassphrase {
		return Result{}, ErrWeakPassphrase
	}
	if len(sources) == 0 {
		return Result{}, errors.New("build package: no recording")
	}
	pub := key.Public().(ed25519.PublicKey)
	m.Format, m.Notice, m.KeyFinger = Format, notice, Fingerprint(pub)
	if m.Issuer == "" {
		m.Issuer = "Ville de Mercier, Direction des communications et des technologies de l'information"
	}
	m.Files = nil
	seen := map[string]bool{}
	for _, s := range sources {
		e := s.Entry
		e.Name = recordingsDir + path.Base(e.Name)
		if seen[e.Name] {
			return Result{}, fmt.Errorf("build package: two recordings named %s", e.Name)
		}
		seen[e.Name] = true
		m.Files = append(m.Files, e)
	}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Result{}, err
	}
	mj = append(mj, '\n')
	sig := ed25519.Sign(key, mj)
	pubPEM, err := PublicPEM(pub)
	if err != nil {
		return Result{}, err
	}
	rcp, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return Result{}, fmt.Errorf("build package: %w", err)
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	enc, err := age.Encrypt(cw, rcp)
	if err != nil {
		return Result{}, fmt.Errorf("build package: encrypt: %w", err)
	}
	tw := tar.NewWriter(enc)
	now := m.CreatedAt
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: now, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	var sums strings.Builder
	for _, e := range m.Files {
		fmt.Fprintf(&sums, "%s  %s\n", e.SHA256, e.Name)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{ReadmeName, []byte(readme(m))}, {ManifestName, mj}, {SignatureName, []byte(base64.StdEncoding.EncodeToString(sig) + "\n")},
		{PublicKeyName, pubPEM}, {SumsName, []byte(sums.String())}} {
		if err := add(f.name, f.data); err != nil {
			return Result{}, fmt.Errorf("build package: %w", err)
		}
	}
	for i, s := range sources {
		e := m.Files[i]
		if err := copyChecked(tw, e, s, now); err != nil {
			return Result{}, fmt.Errorf("build package: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return Result{}, fmt.Errorf("build package: %w", err)
	}
	if err := enc.Close(); err != nil {
		return Result{}, fmt.Errorf("build package: %w", err)
	}
	ms := sha256.Sum256(mj)
	return Result{Manifest: m, ManifestSHA256: hex.EncodeToString(ms[:]), SHA256: hex.EncodeToString(h.Sum(nil)), Size: cw.n}, nil
}

// copyChecked copies one recording into the tar, hashing it on the way.
func copyChecked(tw *tar.Writer, e FileEntry, s Source, mod time.Time) error {
	rc, err := s.Open()
	if err != nil {
		return fmt.Errorf("recording %d: %w", e.RecordingID, err)
	}
	defer rc.Close()
	if err := tw.WriteHeader(&tar.Header{Name: e.Name, Mode: 0o600, Size: e.Size, ModTime: mod, Format: tar.FormatPAX}); err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), io.LimitReader(rc, e.Size+1))
	if err != nil {
		return fmt.Errorf("recording %d: %w", e.RecordingID, err)
	}
	if n != e.Size || hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
		return fmt.Errorf("recording %d: %w: the file no longer matches the archive's size and SHA-256", e.RecordingID, ErrTampered)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// readme tells the holder how to open and check the package.
func readme(m Manifest) string {
	return fmt.Sprintf(`Ville de Mercier — transmission d'enregistrements d'appels
Demande n° %d (%s), reçue le %s ; destinataire : %s.

Ouvrir le paquet (la phrase de passe vous a été remise séparément) :
    age -d -o paquet.tar FICHIER.age
    tar -xf paquet.tar

Vérifier qu'il est intact et qu'il vient de la Ville :
    1. l'empreinte de la clé publique (%s) doit être celle que publie la Ville :
       openssl pkey -pubin -in %s -outform DER | sha256sum
    2. la signature du manifeste :
       base64 -d %s > manifest.sig
       openssl pkeyutl -verify -pubin -inkey %s -rawin -in %s -sigfile manifest.sig
    3. chaque fichier :
       sha256sum -c %s
    (ou : recpolicy package verify FICHIER.age --public-key cle.pem)

%s
À détruire au plus tard le %s, puis confirmer la destruction à la Ville.
`, m.Request.ID, m.Request.Purpose, m.Request.ReceivedOn, m.Recipient, PublicKeyName, PublicKeyName,
		SignatureName, PublicKeyName, ManifestName, SumsName, notice, m.DueOn)
}

// Verified is what Verify found in a package.
type Verified struct {
	Manifest    Manifest
	Fingerprint string // of the key that signed it
}

// Verify decrypts a package with passphrase and checks it: the manifest's
// signature (by pub, or when pub is nil by the key in the package, whose
// fingerprint the caller must compare with the city's), and every file
// against the manifest, with nothing missing or added. An altered package
// wraps ErrTampered.
func Verify(r io.Reader, passphrase string, pub ed25519.PublicKey) (Verified, error) {
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return Verified{}, err
	}
	dec, err := age.Decrypt(r, id)
	if err != nil {
		return Verified{}, fmt.Errorf("open package: %w (wrong passphrase, or not a package)", err)
	}
	return VerifyTar(dec, pub)
}

// VerifyTar checks an already decrypted package (see Verify).
func VerifyTar(r io.Reader, pub ed25519.PublicKey) (Verified, error) {
	tr := tar.NewReader(r)
	small := map[string][]byte{}
	got := map[string]string{}
	sizes := map[string]int64{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Verified{}, fmt.Errorf("read package: %w", err)
		}
		if strings.HasPrefix(hdr.Name, recordingsDir) {
			h := sha256.New()
			n, err := io.Copy(h, tr)
			if err != nil {
				return Verified{}, fmt.Errorf("read package: %w", err)
			}
			got[hdr.Name], sizes[hdr.Name] = hex.EncodeToString(h.Sum(nil)), n
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
		if err != nil {
			return Verified{}, fmt.Errorf("read package: %w", err)
		}
		small[hdr.Name] = b
	}
	mj, sigb := small[ManifestName], small[SignatureName]
	if mj == nil || sigb == nil {
		return Verified{}, fmt.Errorf("%w: no signed manifest", ErrTampered)
	}
	if pub == nil {
		k, err := ParsePublicPEM(small[PublicKeyName])
		if err != nil {
			return Verified{}, fmt.Errorf("%w: public key: %v", ErrTampered, err)
		}
		pub = k
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(sigb)))
	if err != nil || !ed25519.Verify(pub, mj, sig) {
		return Verified{}, fmt.Errorf("%w: the manifest's signature does not verify with the key %s", ErrTampered, Fingerprint(pub))
	}
	var m Manifest
	if err := json.Unmarshal(mj, &m); err != nil || m.Format != Format {
		return Verified{}, fmt.Errorf("%w: manifest not of format %s", ErrTampered, Format)
	}
	want := map[string]FileEntry{}
	for _, e := range m.Files {
		want[e.Name] = e
		if got[e.Name] != e.SHA256 || sizes[e.Name] != e.Size {
			return Verified{}, fmt.Errorf("%w: %s is missing or differs from the manifest", ErrTampered, e.Name)
		}
	}
	var extra []string
	for name := range got {
		if _, ok := want[name]; !ok {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return Verified{}, fmt.Errorf("%w: files the manifest does not name: %s", ErrTampered, strings.Join(extra, ", "))
	}
	return Verified{Manifest: m, Fingerprint: Fingerprint(pub)}, nil
}
