package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/ingest"
	"github.com/villedemercier/recpolicy/archive/query"
	"github.com/villedemercier/recpolicy/archive/register"
)

// accessFixture is a migrated archive with recordings of several
// departments, real files, and rules naming two directors: dferland
// (greffe, whose own extension 252 is confidential) and jtremblay
// (communications-ti).
type accessFixture struct {
	cfg, dir string
	st       *archive.Store
	ids      map[string]int64 // recording id by label
}

func newAccessFixture(t *testing.T) *accessFixture {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("these tests act as other logins through RECPOLICY_AS, which only root may set: run make test as root (the sandbox needs root too)")
	}
	cfg, st := archiveTestConfig(t)
	body, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rulesFile := cityRules(t)
	src, _ := os.ReadFile(rulesFile)
	src = bytes.Replace(src, []byte("  - id: greffe\n"), []byte("  - id: greffe\n    director_user: dferland\n"), 1)
	src = bytes.Replace(src, []byte("  - id: communications-ti\n"), []byte("  - id: communications-ti\n    director_user: jtremblay\n"), 1)
	os.WriteFile(rulesFile, src, 0o644)
	abs, _ := filepath.Abs("../../rules/mercier.yaml")
	body = bytes.Replace(body, []byte("rules_file: "+abs), []byte("rules_file: "+rulesFile), 1)
	body = append(body, "access: {administrators: [root], greffe_reviewers: [mgreffe]}\n"...)
	os.WriteFile(cfg, body, 0o600)
	f := &accessFixture{cfg: cfg, dir: filepath.Dir(cfg), st: st, ids: map[string]int64{}}
	t.Setenv(asEnv, "root")
	if rc, out, errs := f.as(t, "root", group("migrate"), "--config", cfg); rc != 0 {
		t.Fatalf("migrate: %s %s", out, errs)
	}

	t0 := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	type call struct {
		label, ext, linked string
		other              string // a second extension in the same call (a transfer), "" for none
		flagged            bool   // the daemon saw a confidential extension in the call
		noCDR              bool   // its call records are not archived (still spooled, or quarantined)
	}
	calls := []call{
		{"comm", "235", "L1", "", false, false},
		{"greffe", "242", "L2", "", false, false},
		{"confidential", "252", "L3", "", false, false},
		{"shared-with-confidential", "245", "L4", "252", false, false}, // 245 took a call 252 had (a transfer)
		{"shared", "245", "L6", "", false, false},                      // greffe and communications-ti
		{"police", "801", "L5", "", false, false},
		{"flagged", "235", "L7", "", true, false}, // a confidential extension took part (daemon's evidence)
		{"unlinked", "235", "", "", false, true},  // recovered without its call's linkedid
		{"pending", "235", "L8", "", false, true}, // its call records not archived yet
	}
	var cdrs []*ingest.CDR
	var recs []*archive.Recording
	for i, c := range calls {
		start := t0.Add(time.Duration(i) * time.Minute)
		fields := cdrFields(c.linked, 1, "5145550100", c.ext, "PJSIP/carrier-0000000"+strconv.Itoa(i), "PJSIP/"+c.ext+"-0000001"+strconv.Itoa(i), start)
		for j := range fields {
			if fields[j].Key == "LinkedID" {
				fields[j].Value = c.linked
			}
		}
		if !c.noCDR {
			cdr, _, err := ingest.ParseCDR(fields, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			cdrs = append(cdrs, &cdr)
		}
		if c.other != "" {
			of := cdrFields(c.linked+"-x", 2, "5145550100", c.other, "PJSIP/carrier-0000002"+strconv.Itoa(i), "PJSIP/"+c.other+"-0000003"+strconv.Itoa(i), start.Add(-time.Minute))
			for j := range of {
				if of[j].Key == "LinkedID" {
					of[j].Value = c.linked
				}
			}
			oc, _, err := ingest.ParseCDR(of, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			cdrs = append(cdrs, &oc)
		}
		p := filepath.Join(f.dir, "archive", "2026", "11", "27", c.label+".wav")
		os.MkdirAll(filepath.Dir(p), 0o755)
		data := []byte("RIFF fake audio of " + c.label)
		os.WriteFile(p, data, 0o640)
		sum := sha256.Sum256(data)
		recs = append(recs, &archive.Recording{Path: p, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Duration: 30,
			Extension: c.ext, Direction: "inbound", Start: start, End: start.Add(30 * time.Second),
			UniqueID: c.label + "b", LinkedID: c.linked, RetentionClass: "standard", CallConfidential: c.flagged})
	}
	if _, err := ingest.NewStore(st).InsertBatch(context.Background(), cdrs, recs); err != nil {
		t.Fatal(err)
	}
	list, err := query.NewStore(st).ListRecordings(context.Background(), query.RecordingFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list {
		f.ids[strings.TrimSuffix(filepath.Base(r.Path), ".wav")] = r.ID
	}
	return f
}

func (f *accessFixture) id(label string) string { return strconv.FormatInt(f.ids[label], 10) }

// command is a subcommand's entry point.
type command = func([]string, io.Writer, io.Writer) int

// as runs a command as login.
func (f *accessFixture) as(t *testing.T, login string, fn command, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv(asEnv, login)
	var out, errb bytes.Buffer
	rc := fn(args, &out, &errb)
	return rc, out.String(), errb.String()
}

func TestDirectorsSeeTheirDepartmentOnly(t *testing.T) {
	f := newAccessFixture(t)
	recs, calls := group("recordings"), group("calls")
	tests := []struct {
		login     string
		fn        command
		args      []string
		rc        int
		see, hide []string
		err       string
	}{
		{"root", recs, []string{"list"}, 0, []string{"comm.wav", "greffe.wav", "confidential.wav", "shared-with-confidential.wav", "shared.wav", "police.wav", "flagged.wav", "unlinked.wav", "pending.wav"}, nil, ""},
		{"dferland", recs, []string{"list"}, 0, []string{"greffe.wav", "/shared.wav"}, []string{"comm.wav", "confidential.wav", "shared-with-confidential.wav", "police.wav"}, ""},
		{"jtremblay", recs, []string{"list"}, 0, []string{"comm.wav", "/shared.wav"}, []string{"greffe.wav", "confidential.wav", "shared-with-confidential.wav", "police.wav", "flagged.wav", "unlinked.wav", "pending.wav"}, ""},
		// Asking for more than one's department narrows to it.
		{"dferland", recs, []string{"list", "--extension", "252,235,242"}, 0, []string{"greffe.wav"}, []string{"comm.wav", "confidential.wav"}, ""},
		{"dferland", recs, []string{"list", "--department", "police"}, 0, nil, []string{"police.wav"}, ""},
		{"dferland", calls, []string{"list"}, 0, []string{"L2", "L6"}, []string{"L1", "L3", "L4", "L5"}, ""},
		{"jtremblay", calls, []string{"list", "--json"}, 0, []string{`"linkedid": "L1"`, `"linkedid": "L6"`}, []string{`"L4"`, `"L3"`, `"L2"`}, ""},
		{"visiteur", recs, []string{"list"}, 1, nil, nil, "access denied to visiteur: no access to recordings or call records"},
		{"visiteur", calls, []string{"list"}, 1, nil, nil, "access denied to visiteur"},
		{"dferland", group("hold"), []string{"list"}, 1, nil, nil, "access denied to dferland: recpolicy hold list is for the administrators"},
		{"dferland", group("access"), []string{"log"}, 1, nil, nil, "recpolicy access log is for the administrators"},
		{"dferland", group("requests"), []string{"list"}, 1, nil, nil, "recpolicy requests list is for the administrators"},
		// The Greffe's reviewer reads the register, nothing else.
		{"mgreffe", group("requests"), []string{"list"}, 0, []string{"ID"}, nil, ""},
		{"mgreffe", recs, []string{"list"}, 1, nil, nil, "recpolicy recordings list is not for a Greffe reviewer"},
		{"mgreffe", group("hold"), []string{"list"}, 1, nil, nil, "recpolicy hold list is not for a Greffe reviewer"},
	}
	for _, tt := range tests {
		args := append([]string{tt.args[0], "--config", f.cfg}, tt.args[1:]...)
		rc, out, errs := f.as(t, tt.login, tt.fn, args...)
		name := tt.login + " " + strings.Join(tt.args, " ")
		if rc != tt.rc {
			t.Errorf("%s: exit %d, want %d; stdout %q stderr %q", name, rc, tt.rc, out, errs)
			continue
		}
		for _, s := range tt.see {
			if !strings.Contains(out, s) {
				t.Errorf("%s: does not show %q:\n%s", name, s, out)
			}
		}
		for _, s := range tt.hide {
			if strings.Contains(out, s) {
				t.Errorf("%s: shows %q:\n%s", name, s, out)
			}
		}
		if tt.err != "" && !strings.Contains(errs, tt.err) {
			t.Errorf("%s: stderr %q lacks %q", name, errs, tt.err)
		}
	}

	// Every access above, granted or refused, is in the access log.
	entries, err := register.NewStore(f.st).AccessLog(context.Background(), register.AccessLogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range entries {
		count[e.Login+" "+e.Role+" "+e.Outcome]++
		if e.Login != "root" && e.Detail["acting_root"] != "root" {
			t.Errorf("entry %d of %s does not name the root session acting as them: %v", e.ID, e.Login, e.Detail)
		}
	}
	for k, want := range map[string]int{
		"dferland director granted": 4, "dferland director refused": 3,
		"jtremblay director granted": 2, "visiteur none refused": 2, "root administrator granted": 1,
	} {
		if count[k] != want {
			t.Errorf("access log has %d entries %q, want %d (all: %v)", count[k], k, want, count)
		}
	}

	// Through sudo, a director or a Greffe reviewer is sent to the console:
	// the command line is the administrators' tool. Root acting as them
	// (RECPOLICY_AS, above) still sees what they see.
	t.Setenv(asEnv, "")
	t.Setenv("SUDO_UID", "1000")
	t.Setenv("SUDO_GID", "1000")
	home := filepath.Join(f.dir, "home")
	os.Mkdir(home, 0o755)
	os.Chown(home, 1000, 1000)
	for _, who := range []string{"dferland", "mgreffe"} {
		t.Setenv("SUDO_USER", who)
		for _, args := range [][]string{{"list"}, {"get", f.id("greffe"), "--out", filepath.Join(home, "x.wav"), "--purpose", "x"}} {
			var stdout, stderr bytes.Buffer
			full := append([]string{args[0], "--config", f.cfg}, args[1:]...)
			if rc := group("recordings")(full, &stdout, &stderr); rc != 1 || !strings.Contains(stderr.String(), "use the console") {
				t.Errorf("sudo %s recordings %v: exit %d, %q", who, args[0], rc, stderr.String())
			}
		}
		var stdout, stderr bytes.Buffer
		if rc := group("requests")([]string{"list", "--config", f.cfg}, &stdout, &stderr); rc != 1 || !strings.Contains(stderr.String(), "use the console") {
			t.Errorf("sudo %s requests list: exit %d, %q", who, rc, stderr.String())
		}
	}
	t.Setenv("SUDO_USER", "")
	t.Setenv(asEnv, "root")

	// The log proves itself: whole, verify says OK; one row altered (by a
	// superuser, triggers off), it names the row and exits 1; directors may
	// not run it.
	if rc, out, errs := f.as(t, "root", group("access"), "verify", "--config", f.cfg); rc != 0 || !strings.Contains(out, "OK: no row altered") {
		t.Fatalf("access verify: %d %q %q", rc, out, errs)
	}
	if rc, _, errs := f.as(t, "dferland", group("access"), "verify", "--config", f.cfg); rc != 1 || !strings.Contains(errs, "for the administrators") {
		t.Errorf("access verify as a director: %d %q", rc, errs)
	}
	db := f.st.DB()
	for _, q := range []string{`ALTER TABLE access_log DISABLE TRIGGER USER`,
		`UPDATE access_log SET login = 'quelquun' WHERE chain_seq = 3`, `ALTER TABLE access_log ENABLE TRIGGER USER`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if rc, out, errs := f.as(t, "root", group("access"), "verify", "--config", f.cfg); rc != 1 || !strings.Contains(out, "(chain 3): its content does not match its hash") ||
		!strings.Contains(errs, "access log chain broken") {
		t.Errorf("access verify after a row was altered: %d %q %q", rc, out, errs)
	}
}

func TestRecordingsGetAndTheRegister(t *testing.T) {
	f := newAccessFixture(t)
	recs := group("recordings")
	out := func(name string) string { return filepath.Join(f.dir, name) }
	// The city's signing key, named in the config; the passphrase in a file.
	keyFile := out("signing-key.pem")
	if rc, stdout, stderr := f.as(t, "root", group("package"), "keygen", "--out", keyFile); rc != 0 || !strings.Contains(stdout, "fingerprint") {
		t.Fatalf("keygen: %d %q %q", rc, stdout, stderr)
	}
	cfgBody, _ := os.ReadFile(f.cfg)
	cfgBody = bytes.Replace(cfgBody, []byte("dsn: {env: RECPOLICY_TEST_ARCHIVE_DSN}}"), []byte("dsn: {env: RECPOLICY_TEST_ARCHIVE_DSN}, signing_key: "+keyFile+"}"), 1)
	os.WriteFile(f.cfg, cfgBody, 0o600)
	passFile := out("passphrase")
	os.WriteFile(passFile, []byte("une phrase de passe pour Marie Gagnon\n"), 0o600)
	// opinion gives the Greffe side's opinion on request 1 as login (what
	// the console does for a Greffe reviewer).
	opinion := func(login string) command {
		return func(_ []string, stdout, stderr io.Writer) int {
			r, err := register.NewStore(f.st).GiveOpinion(context.Background(), 1, register.SideGreffe, login, true, "d'accord : plainte documentée")
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			fmt.Fprintln(stdout, r.Status)
			return 0
		}
	}
	pkg := []string{"package", "1", "--to", "Marie Gagnon", "--via", "courriel", "--out", out("demande-1.tar.age"), "--passphrase-file", passFile}
	steps := []struct {
		login string
		fn    command
		args  []string
		rc    int
		want  string // substring of stdout (rc 0) or stderr
	}{
		{"dferland", recs, []string{"get", f.id("greffe"), "--out", out("a.wav"), "--purpose", "qualité du service"}, 0, "copied to " + out("a.wav")},
		{"dferland", recs, []string{"get", f.id("greffe"), "--out", out("a.wav"), "--purpose", "again"}, 2, "exists: give a new file name"},
		{"dferland", recs, []string{"get", f.id("greffe"), "--out", out("nodir/a.wav"), "--purpose", "x"}, 2, "does not exist"},
		{"dferland", recs, []string{"get", f.id("confidential"), "--out", out("b.wav"), "--purpose", "x"}, 1, "professional confidentiality"},
		{"dferland", recs, []string{"get", f.id("shared-with-confidential"), "--out", out("b.wav"), "--purpose", "x"}, 1, "professional confidentiality"},
		{"jtremblay", recs, []string{"get", f.id("flagged"), "--out", out("c.wav"), "--purpose", "x"}, 1, "professional confidentiality"},
		{"jtremblay", recs, []string{"get", f.id("unlinked"), "--out", out("d.wav"), "--purpose", "x"}, 1, "professional confidentiality"},
		{"dferland", recs, []string{"get", f.id("comm"), "--out", out("b.wav"), "--purpose", "x"}, 1, "outside your department"},
		{"dferland", recs, []string{"get", f.id("greffe"), "--out", out("c.wav")}, 2, "say why: --purpose"},
		{"visiteur", recs, []string{"get", f.id("greffe"), "--out", out("c.wav"), "--purpose", "x"}, 1, "access denied to visiteur"},
		// A citizen's written complaint about a police call: registered,
		// decided with the Greffe, then served.
		{"root", group("requests"), []string{"add", "--received", "2026-11-26", "--via", "courriel", "--requester", "Marie Gagnon",
			"--purpose", "plainte", "--subject", "accueil au poste de police", "--recording", f.id("police")}, 0, "request 1 registered"},
		{"root", group("requests"), []string{"add", "--received", "someday", "--via", "courriel"}, 2, "--received \"someday\" is not a date"},
		{"root", group("requests"), []string{"add", "--received", "2026-11-26", "--via", "pigeon", "--requester", "X", "--purpose", "plainte",
			"--subject", "s", "--recording", f.id("police")}, 1, `channel "pigeon" is unknown: use courriel or guichet`},
		{"root", recs, []string{"get", f.id("police"), "--out", out("p.wav"), "--request", "1"}, 1, "request 1 is received, not granted"},
		// Decided jointly: the IT department's opinion, then the Greffe's
		// (in the console); one person cannot give both.
		{"root", group("requests"), []string{"decide", "1", "--grant"}, 1, "its grounds (--note TEXT)"},
		{"root", group("requests"), []string{"decide", "1", "--grant", "--note", "plainte recevable"}, 0, "for the Greffe's opinion"},
		{"root", opinion("root"), []string{"avis"}, 1, "decided by two distinct people"},
		{"mgreffe", opinion("mgreffe"), []string{"avis"}, 0, "granted"},
		{"mgreffe", group("requests"), []string{"show", "1"}, 0, "status      granted"},
		{"mgreffe", group("requests"), []string{"close", "1", "--note", "x"}, 1, "recpolicy requests close is not for a Greffe reviewer"},
		{"root", group("requests"), []string{"decide", "1", "--refuse", "--note", "changed my mind"}, 1, "it is granted already"},
		{"root", recs, []string{"get", f.id("greffe"), "--out", out("q.wav"), "--request", "1"}, 1, "request 1 does not name recording"},
		{"dferland", recs, []string{"get", f.id("police"), "--out", out("p.wav"), "--request", "1"}, 1, "handed over by the IT department"},
		{"root", recs, []string{"get", f.id("police"), "--out", out("p.wav"), "--request", "1"}, 0, "destroy this copy once it is no longer needed"},
		// The copy leaves signed and encrypted; the register keeps it, and
		// the request closes only once its holder confirms it destroyed.
		{"dferland", group("requests"), pkg, 1, "recpolicy requests package is for the administrators"},
		{"root", group("requests"), pkg, 0, "transmission 1: request 1, 1 recordings, to Marie Gagnon by courriel"},
		{"root", group("requests"), pkg, 2, "exists: give a new file name"},
		{"root", group("package"), []string{"verify", out("demande-1.tar.age"), "--passphrase-file", passFile}, 0, "OK: request 1 (plainte), for Marie Gagnon"},
		{"root", group("package"), []string{"verify", out("demande-1.tar.age"), "--passphrase-file", keyFile}, 1, "wrong passphrase"},
		{"root", group("requests"), []string{"copies", "--outstanding"}, 0, "Marie Gagnon"},
		{"root", group("requests"), []string{"close", "1", "--note", "x"}, 1, "have not confirmed the copies destroyed"},
		{"root", group("requests"), []string{"confirm-destruction", "1", "--transmission", "9", "--statement", "x"}, 2, "not one of request 1's"},
		{"root", group("requests"), []string{"confirm-destruction", "1", "--transmission", "1", "--statement", "courriel de Marie Gagnon du 2026-12-01"}, 0, "destruction confirmed"},
		{"root", group("requests"), []string{"confirm-destruction", "1", "--transmission", "1", "--statement", "again"}, 1, "confirmed already"},
		{"root", group("requests"), []string{"close", "1", "--note", "copie remise le 2026-11-28, détruite par la requérante"}, 0, "status      closed"},
		{"root", recs, []string{"get", f.id("police"), "--out", out("p2.wav"), "--request", "1"}, 1, "request 1 is closed, not granted"},
		{"root", group("requests"), []string{"list"}, 0, "Marie Gagnon"},
		{"root", group("access"), []string{"log", "--login", "dferland"}, 0, "recpolicy recordings get"},
	}
	for i, s := range steps {
		args := append([]string{s.args[0], "--config", f.cfg}, s.args[1:]...)
		rc, stdout, stderr := f.as(t, s.login, s.fn, args...)
		if rc != s.rc {
			t.Fatalf("step %d (%s %v): exit %d, want %d; stdout %q stderr %q", i, s.login, s.args, rc, s.rc, stdout, stderr)
		}
		got := stdout
		if rc != 0 {
			got = stderr
		}
		if !strings.Contains(got, s.want) {
			t.Errorf("step %d (%s %v): output lacks %q:\n%s", i, s.login, s.args, s.want, got)
		}
	}
	for _, name := range []string{"a.wav", "p.wav"} {
		b, err := os.ReadFile(out(name))
		if err != nil || !bytes.HasPrefix(b, []byte("RIFF fake audio of ")) {
			t.Errorf("copy %s: %q, %v", name, b, err)
		}
	}
	for _, name := range []string{"b.wav", "c.wav", "q.wav", "p2.wav"} {
		if _, err := os.Stat(out(name)); err == nil {
			t.Errorf("a refused access left a copy %s", name)
		}
	}
	// The log and the register keep their history: no change, no deletion.
	db, err := sql.Open("postgres", os.Getenv("RECPOLICY_TEST_ARCHIVE_DSN"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`UPDATE access_log SET outcome = 'granted'`, `DELETE FROM access_log`, `TRUNCATE access_log`,
		`DELETE FROM access_requests`, `UPDATE access_requests SET requester = 'someone else'`,
		`UPDATE access_requests SET status = 'received', closed_at = NULL, closed_by = NULL, close_note = NULL`,
		`DELETE FROM access_request_recordings`} {
		if _, err := db.Exec(q); err == nil {
			t.Errorf("%s succeeded; the access log and the register must keep their history", q)
		}
	}
	// What each get copied, with its purpose or request, is logged.
	entries, err := register.NewStore(f.st).AccessLog(context.Background(), register.AccessLogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, e := range entries {
		if e.Action == "recpolicy recordings get" && e.Outcome == register.Granted {
			req := ""
			if e.RequestID != nil {
				req = strconv.FormatInt(*e.RequestID, 10)
			}
			served = append(served, e.Login+":"+e.Object+":"+e.Purpose+":"+req)
		}
	}
	want := []string{"root:" + f.id("police") + "::1", "dferland:" + f.id("greffe") + ":qualité du service:"}
	if strings.Join(served, " ") != strings.Join(want, " ") {
		t.Errorf("granted copies in the log %v, want %v", served, want)
	}
}
