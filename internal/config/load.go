package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Load reads, checks and completes the configuration file at path. Every
// problem found is reported at once, each line prefixed with the file name.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	c := &Config{Path: abs}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("load config: %w: %s", ErrInvalid, prefixLines(path, err.Error()))
	}
	c.setDefaults()
	c.resolvePaths()
	if problems := c.validate(); len(problems) > 0 {
		for i, p := range problems {
			problems[i] = path + ": " + p
		}
		return nil, fmt.Errorf("load config: %w:\n%s", ErrInvalid, strings.Join(problems, "\n"))
	}
	return c, nil
}

func prefixLines(path, msg string) string {
	msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n")
	msg = strings.TrimPrefix(msg, "yaml: ")
	var out []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "line ") {
			l = strings.TrimPrefix(l, "line ")
			out = append(out, path+":"+l)
			continue
		}
		out = append(out, path+": "+l)
	}
	return "\n" + strings.Join(out, "\n")
}

func (c *Config) validate() []string {
	var p []string
	need := func(v, key, hint string) {
		if v == "" {
			p = append(p, fmt.Sprintf("%s is required (%s)", key, hint))
		}
	}
	need(c.RulesFile, "rules_file", "path of the rules file, e.g. /etc/recpolicy/rules.yaml")
	need(c.AMI.Address, "ami.address", "host:port of Asterisk's AMI, e.g. 127.0.0.1:5038")
	need(c.AMI.Username, "ami.username", "the manager.conf user")
	if !c.AMI.Secret.Set() {
		p = append(p, "ami.secret needs env, credential or file (secrets are never written in the config)")
	}
	need(c.ARI.URL, "ari.url", "e.g. http://127.0.0.1:8088/ari")
	need(c.ARI.Username, "ari.username", "the ari.conf user")
	if !c.ARI.Password.Set() {
		p = append(p, "ari.password needs env, credential or file (secrets are never written in the config)")
	}
	switch c.Recording.Backend {
	case "mixmonitor", "snoop":
	default:
		p = append(p, fmt.Sprintf("recording.backend %q is unknown; use mixmonitor or snoop", c.Recording.Backend))
	}
	if c.Recording.Parties != PartiesApart && c.Recording.Parties != PartiesMixed {
		p = append(p, fmt.Sprintf("recording.parties %q is unknown; use apart (each party on its own channel) or mixed", c.Recording.Parties))
	}
	if c.Recording.Backend == "snoop" && path.Base(c.Recording.AsteriskDir) != "recording" {
		p = append(p, fmt.Sprintf("recording.asterisk_dir %q: with backend snoop it must be Asterisk's ARI recording directory, <astspooldir>/recording (e.g. /var/spool/asterisk/recording)", c.Recording.AsteriskDir))
	}
	if c.ARI.SnoopApplication == c.ARI.Application {
		p = append(p, fmt.Sprintf("ari.snoop_application %q must differ from ari.application (the greeting continues every channel of its application)", c.ARI.SnoopApplication))
	}
	need(c.Recording.AsteriskDir, "recording.asterisk_dir", "where Asterisk writes recordings, as Asterisk sees it")
	need(c.Recording.LocalDir, "recording.local_dir", "the same directory as this daemon sees it")
	if strings.ContainsAny(c.Recording.AsteriskDir, ",|\r\n") {
		p = append(p, "recording.asterisk_dir must not contain a comma, a pipe or a line break (Asterisk joins MixMonitor arguments with commas)")
	}
	for i, a := range c.Access.Administrators {
		if strings.TrimSpace(a) == "" || strings.ContainsAny(a, " \t\r\n,:") {
			p = append(p, fmt.Sprintf("access.administrators[%d] %q is not a login name: give operating-system user names, e.g. [root, mlaroche]", i, a))
		}
	}
	need(c.Archive.Dir, "archive.dir", "where complete recordings are filed")
	need(c.Archive.SpoolDir, "archive.spool_dir", "where call records and recording metadata wait for PostgreSQL")
	if !c.Archive.DSN.Set() {
		p = append(p, "archive.dsn needs env, credential or file (secrets are never written in the config)")
	}
	if _, _, err := c.ArchiveOwner(); err != nil {
		p = append(p, err.Error())
	}
	if _, err := c.SpoolOwner(); err != nil {
		p = append(p, err.Error())
	}
	if c.Archive.PBXTimezone != "" {
		if _, err := time.LoadLocation(c.Archive.PBXTimezone); err != nil {
			p = append(p, fmt.Sprintf("archive.pbx_timezone %q is not a known time zone; use an IANA name such as America/Toronto or UTC", c.Archive.PBXTimezone))
		}
	}
	if c.Workers < 1 || c.Workers > 256 {
		p = append(p, fmt.Sprintf("workers %d is out of range; use 1 to 256", c.Workers))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, fmt.Sprintf("log_level %q is unknown; use debug, info, warn or error", c.LogLevel))
	}
	p = append(p, c.Console.validate()...)
	return p
}

// String describes the configuration for logs, without any secret.
func (c *Config) String() string {
	return fmt.Sprintf("config %s: ami %s@%s, ari %s@%s app %s, rules %s, recordings %s (asterisk %s), archive %s",
		c.Path, c.AMI.Username, c.AMI.Address, c.ARI.Username, c.ARI.URL, c.ARI.Application,
		c.RulesFile, c.Recording.LocalDir, c.Recording.AsteriskDir, c.Archive.Dir)
}
