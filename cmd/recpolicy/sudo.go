package main

import (
	"errors"
	"fmt"

	"github.com/villedemercier/recpolicy/internal/access"
	"github.com/villedemercier/recpolicy/internal/config"
	"github.com/villedemercier/recpolicy/rules"
)

// Under sudo the CLI runs as root for someone else (access.Sudo). It then
// reads only files that root alone can change (access.CheckTrusted), so no
// one makes themselves administrator with a config of their own, and it
// never shows what a file it could not use holds: the problems' places
// are given, their words withheld (they may quote a root-only file), and an
// administrator sees them by running the same command as root.

// withheld is what replaces a problem's words under sudo.
const withheld = "not valid here (details withheld under sudo, so that no file's content is shown: an administrator runs the command as root to see them)"

// loadConfig loads the daemon config for a CLI command.
func loadConfig(path string) (*config.Config, error) {
	if _, ok := access.Sudo(); !ok {
		return config.Load(path)
	}
	if err := access.CheckTrusted(path); err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	cfg, err := config.Load(path)
	if errors.Is(err, config.ErrInvalid) {
		return nil, fmt.Errorf("load config %s: %w: %s", path, config.ErrInvalid, withheld)
	}
	return cfg, err
}

// loadRules loads a rules file for a CLI command.
func loadRules(path string) (*rules.Rules, error) {
	if _, ok := access.Sudo(); !ok {
		return rules.Load(path)
	}
	if err := access.CheckTrusted(path); err != nil {
		return nil, fmt.Errorf("load rules: %w", err)
	}
	r, err := rules.Load(path)
	var errs *rules.Errors
	if errors.As(err, &errs) {
		out := &rules.Errors{}
		for _, e := range errs.Errs {
			out.Errs = append(out.Errs, &rules.Error{File: e.File, Line: e.Line, Col: e.Col, Msg: withheld})
		}
		return nil, out
	}
	return r, err
}
