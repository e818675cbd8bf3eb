// Package doctor checks, against the running PBX, the database and this
// machine, everything the recpolicy daemon depends on: the AMI login and
// the permission of every action it sends, the ARI login and its
// applications, the cdr_manager mappings, the dialplan include reachable
// from each carrier trunk's context, the greeting sound in every language
// the rules use, the recording folder's owner and mode, the archive's free
// space, the database login's role and the schema, and the clocks. Each
// finding says what is wrong, what to change and in which file; `recpolicy
// doctor` exits 0 only when none fails.
package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/internal/config"
	"github.com/villedemercier/recpolicy/rules"
)

// Status is a finding's outcome.
type Status string

// Outcomes.
const (
	OK   Status = "ok"
	Warn Status = "warn" // works, but worth a look (a daemon not running yet, a file that cannot be read from here)
	Fail Status = "fail" // calls can go unrecorded, or a protection does not hold
)

// Finding is one check's outcome.
type Finding struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`  // what to change
	File   string `json:"file,omitempty"` // where
}

// Options are what the doctor checks with.
type Options struct {
	Config     *config.Config
	ConfigFile string
	Rules      *rules.Rules
	// AsteriskEtc is where the PBX's configuration files are
	// (/etc/asterisk by default); files that cannot be read here (a PBX on
	// another machine) are warnings, not failures.
	AsteriskEtc string
	// DaemonUser is the user the daemon runs as ("recpolicy" when that
	// user exists, else the current user).
	DaemonUser string
	// MaxSkew is the clock difference tolerated with Asterisk and with
	// PostgreSQL (default 2 s).
	MaxSkew time.Duration
	Log     zerolog.Logger
	Now     func() time.Time
}

// Report is every finding, in the order checked.
type Report struct {
	Findings []Finding `json:"findings"`
	// trunkLangs are the carrier trunks' channel languages (the AMI check
	// finds them; the greeting must exist in each).
	trunkLangs []string
}

// OK tells whether no finding failed.
func (r *Report) OK() bool {
	for _, f := range r.Findings {
		if f.Status == Fail {
			return false
		}
	}
	return true
}

func (r *Report) add(check string, st Status, detail, fix, file string) {
	r.Findings = append(r.Findings, Finding{Check: check, Status: st, Detail: detail, Fix: fix, File: file})
}

func (r *Report) ok(check, detail string) { r.add(check, OK, detail, "", "") }

func (r *Report) fail(check, detail, fix, file string) { r.add(check, Fail, detail, fix, file) }

func (r *Report) warn(check, detail, fix, file string) { r.add(check, Warn, detail, fix, file) }

// Run checks everything, each part within its own time-out.
func Run(ctx context.Context, o Options) *Report {
	if o.AsteriskEtc == "" {
		o.AsteriskEtc = "/etc/asterisk"
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DaemonUser == "" {
		o.DaemonUser = defaultDaemonUser()
	}
	r := &Report{}
	r.ok("configuration", fmt.Sprintf("%s loaded; rules %s loaded (%d extensions, sha256 %.12s)", o.ConfigFile, o.Config.RulesFile,
		len(o.Rules.Extensions()), o.Rules.Digest()))
	step := func(f func(context.Context, *Report, Options)) {
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		f(c, r, o)
	}
	step(checkAMI)
	step(checkARI)
	step(checkCDRManager)
	step(checkPBXCSV)
	step(checkFolders)
	step(checkDatabase)
	step(checkDaemon)
	return r
}
