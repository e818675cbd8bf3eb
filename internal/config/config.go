package config

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid marks a configuration that failed validation.
var ErrInvalid = errors.New("invalid configuration")

// Secret names where a secret comes from: an environment variable, a
// systemd credential, or a file. Its value is resolved by Resolve and never
// serialised.
type Secret struct {
	Env string `yaml:"env"`
	// Credential is the name of a systemd credential (LoadCredential=NAME:FILE
	// in the unit): read from $CREDENTIALS_DIRECTORY/NAME when the process
	// runs under systemd with credentials, else File is read (the root-only
	// file the unit loads it from, which the administrators' CLI reads).
	Credential string `yaml:"credential"`
	File       string `yaml:"file"`
}

// Set reports whether the secret names a source.
func (s Secret) Set() bool { return s.Env != "" || s.File != "" || s.Credential != "" }

// credentialPath returns $CREDENTIALS_DIRECTORY/name when systemd passed
// the process that credential, else "".
func credentialPath(name string) string {
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	if dir == "" || name == "" || strings.ContainsAny(name, "/\x00") {
		return ""
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Resolve returns the secret's value: the environment variable when set,
// else the systemd credential when passed, else the file's first line.
func (s Secret) Resolve() (string, error) {
	if s.Env != "" {
		if v, ok := os.LookupEnv(s.Env); ok && v != "" {
			return v, nil
		}
		if s.File == "" && s.Credential == "" {
			return "", fmt.Errorf("read secret: environment variable %s is empty or unset; export it or name a file", s.Env)
		}
	}
	file := s.File
	if p := credentialPath(s.Credential); p != "" {
		file = p
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read secret: %w", err)
		}
		v := strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")
		if v == "" {
			return "", fmt.Errorf("read secret: %s is empty", file)
		}
		return v, nil
	}
	if s.Credential != "" {
		return "", fmt.Errorf("read secret: no systemd credential %s (run under a unit with LoadCredential=%s:FILE, or name a file)", s.Credential, s.Credential)
	}
	return "", errors.New("read secret: no source; set env, credential or file")
}

// SigningKeyCredential is the systemd credential that, when a unit passes
// it (LoadCredential=signing-key:FILE), stands for archive.signing_key: the
// console reads the root-only key through it.
const SigningKeyCredential = "signing-key"

// SigningKeyFile returns the file of the city's signing key: the systemd
// credential signing-key when the process was passed it, else
// archive.signing_key ("" when neither).
func (c *Config) SigningKeyFile() string {
	if p := credentialPath(SigningKeyCredential); p != "" {
		return p
	}
	return c.Archive.SigningKey
}

// AMI is the Asterisk Manager Interface connection.
type AMI struct {
	Address  string `yaml:"address"`
	Username string `yaml:"username"`
	Secret   Secret `yaml:"secret"`
	// ActionTimeout caps every action; PingInterval paces the keepalive.
	ActionTimeout Duration `yaml:"action_timeout"`
	PingInterval  Duration `yaml:"ping_interval"`
	MaxBackoff    Duration `yaml:"max_backoff"`
}

// ARI is the Asterisk REST Interface connection.
type ARI struct {
	URL         string `yaml:"url"`
	Username    string `yaml:"username"`
	Password    Secret `yaml:"password"`
	Application string `yaml:"application"`
	// SnoopApplication is the Stasis application the snoop channels of
	// recording.backend snoop enter (default recpolicy-snoop).
	SnoopApplication string   `yaml:"snoop_application"`
	Timeout          Duration `yaml:"timeout"`
	MaxBackoff       Duration `yaml:"max_backoff"`
}

// The values of recording.parties.
const (
	PartiesApart = "apart"
	PartiesMixed = "mixed"
)

// Recording says where Asterisk writes recordings in progress, and how:
// Backend mixmonitor (the default: MixMonitor over AMI) or snoop (an ARI
// snoop channel recorded over ARI; AsteriskDir is then Asterisk's ARI
// recording directory, <astspooldir>/recording). Asterisk's
// view (AsteriskDir) and the daemon's view (LocalDir) of the same directory
// differ when Asterisk runs in a chroot or a container.
type Recording struct {
	Backend string `yaml:"backend"`
	// Parties is PartiesApart (the default: the extension's voice on the
	// left channel, what it hears on the right, so that a training copy can
	// mask the citizen alone) or PartiesMixed (one channel: MixMonitor
	// without option D, one snoop channel instead of two, for a PBX that
	// cannot carry two snoops per call; a training copy then masks both
	// voices).
	Parties     string `yaml:"parties"`
	AsteriskDir string `yaml:"asterisk_dir"`
	LocalDir    string `yaml:"local_dir"`
	// CloseTimeout is how long after hangup the daemon waits for Asterisk to
	// close a recording before filing it anyway (with a warning).
	CloseTimeout Duration `yaml:"close_timeout"`
	// SpoolOwner is the user Asterisk writes the recordings as; a spool
	// file of any other owner is refused. Empty: the owner of LocalDir.
	SpoolOwner string `yaml:"spool_owner"`
}

// Archive says where complete recordings are filed and where their
// metadata and the call records go.
type Archive struct {
	Dir string `yaml:"dir"`
	// DSN is the database address the daemon and the archive commands use:
	// a login of the recpolicy_runtime role (README "Database roles").
	DSN Secret `yaml:"dsn"`
	// MigrateDSN, when set, is the schema owner's address, used only to
	// apply migrations (the daemon at start, recpolicy migrate); unset,
	// DSN migrates too.
	MigrateDSN Secret `yaml:"migrate_dsn"`
	// SigningKey is the city's Ed25519 key (PKCS #8 PEM, root-only) that
	// signs transmission packages' manifests (recpolicy package keygen).
	SigningKey string `yaml:"signing_key"`
	// SpoolDir holds what waits for PostgreSQL (fsync'd; replayed in order).
	SpoolDir string `yaml:"spool_dir"`
	// PBXTimezone is the zone of the times in Asterisk's Cdr events (the
	// PBX's local time); empty means the rules' time zone.
	PBXTimezone string `yaml:"pbx_timezone"`
	// TrainingDir holds the de-identified training copies; empty means
	// training/ beside Dir. The CLI and the nightly jobs use the same.
	TrainingDir string `yaml:"training_dir"`
	// ReportsDir holds the monthly compliance reports (schedules.report);
	// empty means reports/ beside Dir.
	ReportsDir string `yaml:"reports_dir"`
	// PBXCDRCSV is the PBX's own call records (cdr_csv's Master.csv), read
	// by the compliance report beside the archived ones; empty: only those.
	PBXCDRCSV string `yaml:"pbx_cdr_csv"`
	// Owner and Group own the archived recordings (0640) and their folders
	// (0750): user and group names; empty keeps the daemon's own.
	Owner string `yaml:"owner"`
	Group string `yaml:"group"`
}

// ReportsDir returns the monthly reports' folder: archive.reports_dir, or
// reports/ beside archive.dir; "" when neither is set.
func (c *Config) ReportsDir() string { return c.besideArchive(c.Archive.ReportsDir, "reports") }

// TrainingDir returns the training copies' folder: archive.training_dir,
// or training/ beside archive.dir; "" when neither is set.
func (c *Config) TrainingDir() string { return c.besideArchive(c.Archive.TrainingDir, "training") }

// besideArchive is dir when set, else the folder name beside archive.dir.
func (c *Config) besideArchive(dir, name string) string {
	if dir != "" {
		return filepath.Clean(dir)
	}
	if c.Archive.Dir == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(filepath.Clean(c.Archive.Dir)), name)
}

// SpoolOwner resolves Recording.SpoolOwner to a uid; -1 when it is empty.
func (c *Config) SpoolOwner() (int, error) {
	if c.Recording.SpoolOwner == "" {
		return -1, nil
	}
	u, err := user.Lookup(c.Recording.SpoolOwner)
	if err != nil {
		return -1, fmt.Errorf("recording.spool_owner %q: no such user on this server; name the user Asterisk runs as", c.Recording.SpoolOwner)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return -1, fmt.Errorf("recording.spool_owner %q: uid %q is not a number", c.Recording.SpoolOwner, u.Uid)
	}
	return uid, nil
}

// ArchiveOwner resolves Archive.Owner and Archive.Group to a uid and gid;
// -1 for one left empty.
func (c *Config) ArchiveOwner() (uid, gid int, err error) {
	uid, gid = -1, -1
	if c.Archive.Owner != "" {
		u, err := user.Lookup(c.Archive.Owner)
		if err != nil {
			return -1, -1, fmt.Errorf("archive.owner %q: no such user on this server; create it or fix the name", c.Archive.Owner)
		}
		if uid, err = strconv.Atoi(u.Uid); err != nil {
			return -1, -1, fmt.Errorf("archive.owner %q: uid %q is not a number", c.Archive.Owner, u.Uid)
		}
	}
	if c.Archive.Group != "" {
		g, err := user.LookupGroup(c.Archive.Group)
		if err != nil {
			return -1, -1, fmt.Errorf("archive.group %q: no such group on this server; create it or fix the name", c.Archive.Group)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return -1, -1, fmt.Errorf("archive.group %q: gid %q is not a number", c.Archive.Group, g.Gid)
		}
	}
	return uid, gid, nil
}

// Config is the daemon's configuration.
type Config struct {
	// Path is the file it was loaded from.
	Path      string    `yaml:"-"`
	RulesFile string    `yaml:"rules_file"`
	AMI       AMI       `yaml:"ami"`
	ARI       ARI       `yaml:"ari"`
	Recording Recording `yaml:"recording"`
	Archive   Archive   `yaml:"archive"`
	Access    Access    `yaml:"access"`
	Console   Console   `yaml:"console"`
	Listen    string    `yaml:"listen"`
	LogLevel  string    `yaml:"log_level"`
	// Workers bounds the concurrent filing of completed recordings.
	Workers int `yaml:"workers"`
}

// Access says who administers the recordings. Directors are named in the
// rules file (departments' director_user); everyone else is refused.
type Access struct {
	// Administrators are the operating-system logins with the IT
	// director's rights: every recording, the register of requests, the
	// access log. Default: root.
	Administrators []string `yaml:"administrators"`
	// GreffeReviewers are the logins of the Greffe's reviewers, with whom
	// written requests are decided: they read the register; a decision
	// names one of them.
	GreffeReviewers []string `yaml:"greffe_reviewers"`
	// Trainers are the logins of those who prepare de-identified training
	// copies in the console: they open recordings of extensions not bound
	// by professional confidentiality, for training only.
	Trainers []string `yaml:"trainers"`
}

// Duration is a time.Duration written as "5s" in YAML.
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration %q: use a form like 5s or 250ms", string(b))
	}
	*d = Duration(v)
	return nil
}

// Std returns the value as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

func (c *Config) setDefaults() {
	if c.AMI.ActionTimeout == 0 {
		c.AMI.ActionTimeout = Duration(5 * time.Second)
	}
	if c.AMI.PingInterval == 0 {
		c.AMI.PingInterval = Duration(5 * time.Second)
	}
	if c.AMI.MaxBackoff == 0 {
		c.AMI.MaxBackoff = Duration(10 * time.Second)
	}
	if c.ARI.Application == "" {
		c.ARI.Application = "recpolicy"
	}
	if c.ARI.SnoopApplication == "" {
		c.ARI.SnoopApplication = "recpolicy-snoop"
	}
	if c.ARI.Timeout == 0 {
		c.ARI.Timeout = Duration(5 * time.Second)
	}
	if c.ARI.MaxBackoff == 0 {
		c.ARI.MaxBackoff = Duration(10 * time.Second)
	}
	if c.Recording.Backend == "" {
		c.Recording.Backend = "mixmonitor"
	}
	if c.Recording.Parties == "" {
		c.Recording.Parties = PartiesApart
	}
	if c.Recording.CloseTimeout == 0 {
		c.Recording.CloseTimeout = Duration(15 * time.Second)
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:9642"
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	c.Console.setDefaults()
	if c.Workers == 0 {
		c.Workers = 4
	}
	if c.Access.Administrators == nil {
		c.Access.Administrators = []string{"root"}
	}
}

// resolvePaths makes relative paths relative to the config file's directory.
func (c *Config) resolvePaths() {
	base := filepath.Dir(c.Path)
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	abs(&c.RulesFile)
	abs(&c.Recording.LocalDir)
	abs(&c.Archive.Dir)
	abs(&c.Archive.SpoolDir)
	abs(&c.AMI.Secret.File)
	abs(&c.ARI.Password.File)
	abs(&c.Archive.DSN.File)
	abs(&c.Archive.MigrateDSN.File)
	abs(&c.Archive.ReportsDir)
	abs(&c.Archive.PBXCDRCSV)
	abs(&c.Archive.SigningKey)
	abs(&c.Console.TLSCert)
	abs(&c.Console.TLSKey)
	if c.Console.LDAP != nil {
		abs(&c.Console.LDAP.CAFile)
		abs(&c.Console.LDAP.BindPassword.File)
	}
}
