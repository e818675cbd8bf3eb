package doctor

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ariGet GETs path under the ARI base URL with the daemon's credentials.
func ariGet(ctx context.Context, base, user, password, path string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+path, nil)
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(user, password)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || v == nil {
		io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
		return res.StatusCode, nil
	}
	return res.StatusCode, json.NewDecoder(io.LimitReader(res.Body, 4<<20)).Decode(v)
}

// checkARI logs in to ARI, looks for the daemon's applications and for the
// greeting sound in every language it is played in.
func checkARI(ctx context.Context, r *Report, o Options) {
	cfg := o.Config.ARI
	ariConf := filepath.Join(o.AsteriskEtc, "ari.conf")
	password, err := cfg.Password.Resolve()
	if err != nil {
		r.fail("ARI login", err.Error(), "write the ARI user's password where ari.password names it", o.ConfigFile)
		return
	}
	var info map[string]any
	code, err := ariGet(ctx, cfg.URL, cfg.Username, password, "/asterisk/info", &info)
	switch {
	case err != nil:
		r.fail("ARI login", fmt.Sprintf("no ARI at %s: %v", cfg.URL, err),
			"enable Asterisk's HTTP server and ARI (http.conf enabled = yes; ari.conf enabled = yes), or set ari.url", filepath.Join(o.AsteriskEtc, "http.conf"))
		return
	case code == http.StatusUnauthorized:
		r.fail("ARI login", fmt.Sprintf("Asterisk refused user %s", cfg.Username), "make ari.username and its password match a user of ari.conf (type = user, password =)", ariConf)
		return
	case code != http.StatusOK:
		r.fail("ARI login", fmt.Sprintf("%s/asterisk/info answered %d", cfg.URL, code), "set ari.url to Asterisk's ARI base, e.g. http://127.0.0.1:8088/ari", o.ConfigFile)
		return
	}
	r.ok("ARI login", fmt.Sprintf("user %s at %s", cfg.Username, cfg.URL))

	var apps []struct {
		Name string `json:"name"`
	}
	if _, err := ariGet(ctx, cfg.URL, cfg.Username, password, "/applications", &apps); err == nil {
		want := []string{cfg.Application}
		if o.Config.Recording.Backend == "snoop" {
			want = append(want, cfg.SnoopApplication)
		}
		var names, missing []string
		for _, a := range apps {
			names = append(names, a.Name)
		}
		for _, w := range want {
			if !slices.Contains(names, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			r.warn("ARI applications", "not registered: "+strings.Join(missing, ", ")+" (the daemon registers them when it runs; until then the dialplan plays the greeting itself)",
				"start the daemon (systemctl start recpolicy); the dialplan's RECPOLICY_APP must name ari.application", o.ConfigFile)
		} else {
			r.ok("ARI applications", "registered: "+strings.Join(want, ", "))
		}
	}

	// The greeting, in the rules' language and in each carrier trunk's
	// (the dialplan's fallback plays it in the channel's language).
	g := o.Rules.Greeting()
	langs := []string{g.Language}
	for _, l := range r.trunkLangs {
		if !slices.Contains(langs, l) {
			langs = append(langs, l)
		}
	}
	var sound struct {
		Formats []struct {
			Language string `json:"language"`
		} `json:"formats"`
	}
	code, err = ariGet(ctx, cfg.URL, cfg.Username, password, "/sounds/"+url.PathEscape(g.Sound), &sound)
	have := map[string]bool{}
	if err == nil && code == http.StatusOK {
		for _, f := range sound.Formats {
			have[f.Language] = true
		}
	}
	var missing []string
	for _, l := range langs {
		if !have[l] {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		r.fail("greeting sound", fmt.Sprintf("Asterisk has no sound %s in %s: callers would not hear the notice", g.Sound, strings.Join(missing, ", ")),
			fmt.Sprintf("copy %s to <Asterisk sounds>/%s/%s.wav for each (the Debian package links it into /usr/share/asterisk/sounds/fr and en)", g.File, strings.Join(missing, ","), g.Sound),
			"/usr/share/asterisk/sounds/")
	} else {
		r.ok("greeting sound", fmt.Sprintf("%s in %s", g.Sound, strings.Join(langs, ", ")))
	}
}

// readFile reads a file of the PBX's configuration.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// checkPBXCSV checks the PBX's own call records the compliance report
// reads (archive.pbx_cdr_csv): the daemon's user reads them, with the
// columns the report needs.
func checkPBXCSV(_ context.Context, r *Report, o Options) {
	const check = "PBX call records"
	file := o.Config.Archive.PBXCDRCSV
	if file == "" {
		r.warn(check, "archive.pbx_cdr_csv is not set: the compliance report sees only the call records the daemon archived (a call taken while it was down is not counted)",
			"set archive.pbx_cdr_csv: /var/log/asterisk/cdr-csv/Master.csv (cdr.conf [csv]: usegmtime, loguniqueid, loguserfield, newcdrcolumns = yes)", o.ConfigFile)
		return
	}
	fi, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) {
		if d, derr := os.Stat(filepath.Dir(file)); derr == nil && d.IsDir() {
			r.warn(check, file+" does not exist yet: Asterisk writes it at the first call record", "place a call, then run the doctor again", "")
			return
		}
	}
	if err != nil {
		r.fail(check, fmt.Sprintf("%s: %v", file, errors.Unwrap(err)), "load cdr_csv in Asterisk (modules.conf) with cdr.conf [csv] usegmtime, loguniqueid, loguserfield, newcdrcolumns = yes, or fix archive.pbx_cdr_csv", o.ConfigFile)
		return
	}
	if p, err := lookupPrincipal(o.DaemonUser); err == nil && !p.may(fi, 4) {
		r.fail(check, fmt.Sprintf("%s: the daemon's user %s cannot read it (%s:%s %o)", file, p.name, ownerName(fi), groupName(fi), fi.Mode().Perm()), "put the daemon's user in Asterisk's group (adduser recpolicy asterisk)", file)
		return
	}
	f, err := os.Open(file)
	if err != nil {
		r.fail(check, err.Error(), "", file)
		return
	}
	defer f.Close()
	rec, err := csv.NewReader(f).Read()
	if err == nil && len(rec) < 21 {
		r.fail(check, fmt.Sprintf("%s: %d columns a line, not 21: the report cannot tell its calls apart", file, len(rec)),
			"in cdr.conf [csv]: usegmtime, loguniqueid, loguserfield, newcdrcolumns = yes; module reload cdr_csv.so; start a new Master.csv", filepath.Join(o.AsteriskEtc, "cdr.conf"))
		return
	}
	r.ok(check, file+", readable, with the unique ID, linkedid and sequence")
}

// checkCDRManager checks that Asterisk sends call records to AMI with the
// linkedid and sequence the archive needs.
func checkCDRManager(_ context.Context, r *Report, o Options) {
	file := filepath.Join(o.AsteriskEtc, "cdr_manager.conf")
	sec, err := readConf(file)
	if err != nil {
		r.warn("call records", fmt.Sprintf("cannot read %s here, so the call records' mappings are not checked", file),
			"on the PBX: [general] enabled = yes; [mappings] linkedid => LinkedID, sequence => Sequence", file)
		return
	}
	var problems []string
	if !strings.EqualFold(first(sec["general"]["enabled"]), "yes") {
		problems = append(problems, "[general] enabled is not yes (no call records reach the daemon)")
	}
	m := sec["mappings"]
	for _, k := range []string{"linkedid", "sequence"} {
		if len(m[k]) == 0 {
			problems = append(problems, "[mappings] lacks "+k)
		}
	}
	if len(problems) > 0 {
		r.fail("call records", strings.Join(problems, "; "), "[general] enabled = yes; [mappings] linkedid => LinkedID, sequence => Sequence; then module reload cdr_manager.so", file)
		return
	}
	r.ok("call records", "cdr_manager enabled, linkedid and sequence mapped")
}
