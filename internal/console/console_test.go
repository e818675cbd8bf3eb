package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/accounts"
	"github.com/villedemercier/recpolicy/archive/ingest"
	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/internal/auth"
	"github.com/villedemercier/recpolicy/internal/config"
	"github.com/villedemercier/recpolicy/internal/ldaptest"
	"github.com/villedemercier/recpolicy/internal/pgtest"
	"github.com/villedemercier/recpolicy/internal/transmit"
	"github.com/villedemercier/recpolicy/internal/wav"
	"github.com/villedemercier/recpolicy/rules"
)

// fixture is a console over a fresh database holding one recording of
// each kind that matters to a director of communications-ti (jtremblay).
type fixture struct {
	srv       *httptest.Server
	console   *Server
	cfg       *config.Config
	rules     *rules.Rules
	archive   string
	keyFile   string
	rulesFile string
	st        *archive.Store
	ids       map[string]int64
	wavs      map[string][]byte
}

const (
	password     = "une phrase de passe assez longue"
	ldapPassword = "mot-de-passe-annuaire"
)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st, err := archive.Connect(pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../../rules/mercier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src = bytes.Replace(src, []byte("  - id: communications-ti\n"), []byte("  - id: communications-ti\n    director_user: jtremblay\n"), 1)
	src = bytes.Replace(src, []byte("  - id: police\n"), []byte("  - id: police\n    director_user: chef.police\n"), 1)
	os.MkdirAll(filepath.Join(dir, "sounds"), 0o755)
	os.WriteFile(filepath.Join(dir, "sounds", "avis-enregistrement.wav"), []byte("RIFF"), 0o644)
	rulesFile := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rulesFile, src, 0o644)
	r, err := rules.Load(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	// The city's signing key for transmission packages.
	keyFile := filepath.Join(dir, "signing-key.pem")
	if _, err := transmit.GenerateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Archive: config.Archive{Dir: filepath.Join(dir, "archive"), SigningKey: keyFile, TrainingDir: filepath.Join(dir, "training")},
		Access: config.Access{Administrators: []string{"mlaroche"}, GreffeReviewers: []string{"mgreffe"}, Trainers: []string{"formateur"}}}
	cfg.Console = config.Console{SessionIdle: config.Duration(30 * time.Minute), SessionMax: config.Duration(10 * time.Hour), LockAfter: 5, LockFor: config.Duration(15 * time.Minute)}

	f := &fixture{st: st, archive: cfg.Archive.Dir, keyFile: keyFile, rulesFile: rulesFile, ids: map[string]int64{}, wavs: map[string][]byte{}}
	t0 := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	var cdrs []*ingest.CDR
	var recs []*archive.Recording
	// transfert252: a citizen's call that the confidential extension 252
	// took and handed to the police's 801; the daemon flagged the call.
	for i, c := range []struct {
		label, ext   string
		confidential bool
	}{{"comm", "235", false}, {"confidential", "252", true}, {"police", "801", false}, {"transfert252", "801", true}} {
		start := t0.Add(time.Duration(i) * time.Minute)
		linked := "L" + c.label
		ft := func(t time.Time) string { return t.Format("2006-01-02 15:04:05") }
		cdr, _, err := ingest.ParseCDR([]ingest.Field{
			{Key: "Source", Value: "5145550100"}, {Key: "Destination", Value: c.ext}, {Key: "Channel", Value: fmt.Sprintf("PJSIP/carrier-%08d", i)},
			{Key: "DestinationChannel", Value: fmt.Sprintf("PJSIP/%s-%08d", c.ext, i)}, {Key: "StartTime", Value: ft(start)}, {Key: "AnswerTime", Value: ft(start)},
			{Key: "EndTime", Value: ft(start.Add(30 * time.Second))}, {Key: "Duration", Value: "30"}, {Key: "BillableSeconds", Value: "30"},
			{Key: "Disposition", Value: "ANSWERED"}, {Key: "UniqueID", Value: linked}, {Key: "LinkedID", Value: linked}, {Key: "Sequence", Value: "1"},
		}, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		cdrs = append(cdrs, &cdr)
		if c.label == "transfert252" {
			leg, _, err := ingest.ParseCDR([]ingest.Field{
				{Key: "Source", Value: "5145550100"}, {Key: "Destination", Value: "252"}, {Key: "Channel", Value: fmt.Sprintf("PJSIP/carrier-%08d", i)},
				{Key: "DestinationChannel", Value: fmt.Sprintf("PJSIP/252-%08d", 90+i)}, {Key: "StartTime", Value: ft(start)}, {Key: "AnswerTime", Value: ft(start)},
				{Key: "EndTime", Value: ft(start.Add(10 * time.Second))}, {Key: "Duration", Value: "10"}, {Key: "BillableSeconds", Value: "10"},
				{Key: "Disposition", Value: "ANSWERED"}, {Key: "UniqueID", Value: linked + "-252"}, {Key: "LinkedID", Value: linked}, {Key: "Sequence", Value: "2"},
			}, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			cdrs = append(cdrs, &leg)
		}
		p := filepath.Join(cfg.Archive.Dir, "2026", "11", "27", c.label+".wav")
		os.MkdirAll(filepath.Dir(p), 0o750)
		data := toneWAV(5, 440+100*float64(i))
		os.WriteFile(p, data, 0o640)
		f.wavs[c.label] = data
		sum := sha256.Sum256(data)
		recs = append(recs, &archive.Recording{Path: p, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Duration: 30,
			Extension: c.ext, Direction: "inbound", Start: start, End: start.Add(30 * time.Second), UniqueID: linked + "b", LinkedID: linked,
			RetentionClass: "standard", DecisionRule: "external-call", Greeting: "played", CallConfidential: c.confidential})
	}
	if _, err := ingest.NewStore(st).InsertBatch(t.Context(), cdrs, recs); err != nil {
		t.Fatal(err)
	}
	rows, err := st.DB().Query(`SELECT id, path FROM recordings`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var p string
		rows.Scan(&id, &p)
		f.ids[strings.TrimSuffix(filepath.Base(p), ".wav")] = id
	}
	rows.Close()
	acc := accounts.NewStore(st)
	h, _ := auth.HashPassword(password)
	for _, l := range []string{"jtremblay", "mlaroche", "visiteur", "mgreffe", "formateur"} {
		if err := acc.AddUser(t.Context(), l, "", h); err != nil {
			t.Fatal(err)
		}
	}
	// The city's directory: the police director, and the IT department's
	// "dsi" in the administrators' group. Local accounts stay beside it.
	directoryServer := ldaptest.Start(t, []ldaptest.Person{
		{UID: "chef.police", Name: "Chef de police", Password: ldapPassword},
		{UID: "dsi", Name: "Direction des TI", Password: ldapPassword, Groups: []string{"recpolicy-admins"}},
	})
	policy := &auth.Policy{LockAfter: 5, LockFor: 15 * time.Minute}
	directory, err := auth.NewLDAP(auth.LDAPConfig{URL: directoryServer.URL, BindDN: ldaptest.Admin, BindPassword: ldaptest.AdminPassword,
		BaseDN: "ou=people," + ldaptest.Base, AdminGroup: "cn=recpolicy-admins,ou=groups," + ldaptest.Base}, policy)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: cfg, Store: st, Rules: func() *rules.Rules { return r }, Log: zerolog.New(zerolog.NewTestWriter(t)),
		Auth: auth.Chain{Directory: directory, Local: auth.NewLocal(acc, policy)}})
	if err != nil {
		t.Fatal(err)
	}
	f.console, f.cfg, f.rules = s, cfg, r
	f.srv = httptest.NewTLSServer(s.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// toneWAV is a WAV file: secs seconds of a hz tone, 8 kHz mono 16-bit.
func toneWAV(secs, hz float64) []byte {
	n := int(secs * 8000)
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	hdr, _ := wav.Prefix(wav.PCMFmt(1, 8000, 16), int64(2*n))
	b.Write(hdr)
	for i := 0; i < n; i++ {
		le(int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/8000)))
	}
	return b.Bytes()
}

// client returns a browser-like client: cookies kept, redirects not followed.
func (f *fixture) client(t testing.TB) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: f.srv.Client().Transport, Jar: jar, // a client of its own: f.srv.Client() is shared
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login logs c in as login; it returns the answer.
func (f *fixture) login(t testing.TB, c *http.Client, login, pw string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+"/connexion", strings.NewReader(url.Values{"identifiant": {login}, "mot_de_passe": {pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", f.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// do sends a request (same-origin, as the console's pages do) and returns
// the status and body.
func (f *fixture) do(t testing.TB, c *http.Client, method, path string, body any, hdr ...string) (int, string, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, rd)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func (f *fixture) accessLog(t testing.TB) []register.AccessEntry {
	t.Helper()
	e, err := register.NewStore(f.st).AccessLog(context.Background(), register.AccessLogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestConsoleDirector(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)

	// No session: pages send to the login page, the API answers 401.
	if code, _, h := f.do(t, c, "GET", "/enregistrements", nil); code != http.StatusSeeOther || h.Get("Location") != "/connexion" {
		t.Fatalf("page without a session: %d %v", code, h)
	}
	if code, _, _ := f.do(t, c, "GET", "/api/recordings", nil); code != http.StatusUnauthorized {
		t.Fatalf("API without a session: %d", code)
	}
	// A wrong password: refused, the same words as an unknown login, logged.
	if res := f.login(t, c, "jtremblay", "mauvais mot de passe"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	res := f.login(t, c, "jtremblay", password)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	ck := res.Cookies()[0]
	if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Name != cookieName {
		t.Errorf("session cookie %+v: want Secure, HttpOnly, SameSite=Strict", ck)
	}

	// The director's list: their department only, never the confidential extension.
	code, body, h := f.do(t, c, "GET", "/api/recordings", nil)
	if code != 200 || !strings.Contains(body, `"comm.wav"`) || strings.Contains(body, "police.wav") || strings.Contains(body, "confidential.wav") {
		t.Fatalf("director's list: %d %s", code, body)
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers: %v", h)
	}
	if strings.Contains(body, "/2026/11/27/") {
		t.Errorf("the list shows paths on the server: %s", body)
	}

	// Another department's recording answers exactly as one that does not exist, and is logged.
	codeOther, bodyOther, _ := f.do(t, c, "GET", fmt.Sprintf("/api/recordings/%d", f.ids["police"]), nil)
	codeNone, bodyNone, _ := f.do(t, c, "GET", "/api/recordings/999999", nil)
	if codeOther != 404 || codeOther != codeNone || bodyOther != bodyNone {
		t.Errorf("other department: %d %q; missing: %d %q", codeOther, bodyOther, codeNone, bodyNone)
	}
	if code, _, _ := f.do(t, c, "GET", fmt.Sprintf("/api/recordings/%d", f.ids["confidential"]), nil); code != 404 {
		t.Errorf("confidential recording: %d", code)
	}

	// Its own recording: facts, then the purpose before any audio.
	comm := fmt.Sprintf("/api/recordings/%d", f.ids["comm"])
	if code, body, _ := f.do(t, c, "GET", comm, nil); code != 200 || !strings.Contains(body, `"greeting": "played"`) || !strings.Contains(body, `"service"`) ||
		!strings.Contains(body, `"from": "5145550100"`) || !strings.Contains(body, `"keep_until": "2027-11-27T15:00:30Z"`) {
		t.Fatalf("own recording (facts, the call's legs, kept until): %d %s", code, body)
	}
	if code, body, _ := f.do(t, c, "POST", comm+"/ecoute", map[string]any{"purpose": "curiosite"}); code != 403 || !strings.Contains(body, "jamais la curiosité") {
		t.Errorf("curiosity: %d %s", code, body)
	}
	if code, _, _ := f.do(t, c, "POST", comm+"/ecoute", map[string]any{"purpose": "plainte", "request": 1}); code != 403 {
		t.Errorf("a director's complaint purpose: %d", code)
	}
	code, body, _ = f.do(t, c, "POST", comm+"/ecoute", map[string]any{"purpose": "service"})
	var listen struct{ Audio string }
	json.Unmarshal([]byte(body), &listen)
	if code != 200 || !strings.HasPrefix(listen.Audio, comm+"/audio?t=") {
		t.Fatalf("listen: %d %s", code, body)
	}
	// The audio, in ranges (seeking); not without the ticket; not downloadable by a director.
	code, part, h := f.do(t, c, "GET", listen.Audio, nil, "Range", "bytes=100-199")
	if code != http.StatusPartialContent || part != string(f.wavs["comm"][100:200]) || h.Get("Content-Type") != "audio/wav" {
		t.Errorf("range: %d %q %v", code, part, h)
	}
	if code, _, _ := f.do(t, c, "GET", comm+"/audio", nil); code != 403 {
		t.Errorf("audio without a ticket: %d", code)
	}
	if code, _, _ := f.do(t, c, "GET", listen.Audio+"&telecharger=1", nil); code != 403 {
		t.Errorf("director's download: %d", code)
	}
	// A ticket is this session's only.
	c2 := f.client(t)
	f.login(t, c2, "mlaroche", password)
	if code, _, _ := f.do(t, c2, "GET", listen.Audio, nil); code != 403 {
		t.Errorf("another session's ticket: %d", code)
	}

	// A cross-site request is refused before it does anything.
	if code, _, _ := f.do(t, c, "POST", comm+"/ecoute", map[string]any{"purpose": "service"}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); code != 403 {
		t.Errorf("cross-site POST: %d", code)
	}

	// The access log holds it all, the listen with its purpose, before the audio.
	var sawRefusedLogin, sawRefusedOther, sawListen, sawRefusedDownload bool
	for _, e := range f.accessLog(t) {
		switch {
		case e.Action == "console login" && e.Outcome == register.Refused && e.Login == "jtremblay":
			sawRefusedLogin = true
		case e.Action == "console recording show" && e.Outcome == register.Refused && e.Object == fmt.Sprint(f.ids["police"]):
			sawRefusedOther = true
		case e.Action == "console listen" && e.Outcome == register.Granted && strings.HasPrefix(e.Purpose, "Service à la clientèle"):
			sawListen = true
		case e.Action == "console download" && e.Outcome == register.Refused:
			sawRefusedDownload = true
		}
	}
	if !sawRefusedLogin || !sawRefusedOther || !sawListen || !sawRefusedDownload {
		t.Errorf("access log: refused login %v, refused other department %v, listen %v, refused download %v", sawRefusedLogin, sawRefusedOther, sawListen, sawRefusedDownload)
	}
	if rep, err := register.NewStore(f.st).VerifyAccessLog(t.Context()); err != nil || !rep.OK() {
		t.Errorf("access log chain: %+v %v", rep, err)
	}

	// Logout ends the session; an idle session ends too.
	if code, _, _ := f.do(t, c, "POST", "/deconnexion", nil); code != http.StatusSeeOther {
		t.Errorf("logout: %d", code)
	}
	if code, _, _ := f.do(t, c, "GET", "/api/moi", nil); code != 401 {
		t.Errorf("after logout: %d", code)
	}
	if _, err := f.st.DB().Exec(`UPDATE console_sessions SET last_seen = now() - interval '2 hours'`); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := f.do(t, c2, "GET", "/api/moi", nil); code != 401 {
		t.Errorf("idle session: %d", code)
	}
}

func TestConsoleAdministratorAndStrangers(t *testing.T) {
	f := newFixture(t)
	admin := f.client(t)
	f.login(t, admin, "mlaroche", password)
	code, body, _ := f.do(t, admin, "GET", "/api/recordings?service=police", nil)
	if code != 200 || !strings.Contains(body, "police.wav") || strings.Contains(body, "comm.wav") {
		t.Errorf("administrator, police: %d %s", code, body)
	}
	if code, body, _ := f.do(t, admin, "GET", "/api/recordings?depuis=hier", nil); code != 400 || !strings.Contains(body, "2026-11-28") {
		t.Errorf("bad date: %d %s", code, body)
	}
	police := fmt.Sprintf("/api/recordings/%d", f.ids["police"])
	_, body, _ = f.do(t, admin, "POST", police+"/ecoute", map[string]any{"purpose": "statistiques"})
	var listen struct{ Audio string }
	json.Unmarshal([]byte(body), &listen)
	code, got, h := f.do(t, admin, "GET", listen.Audio+"&telecharger=1", nil)
	if code != 200 || got != string(f.wavs["police"]) || !strings.Contains(h.Get("Content-Disposition"), `attachment; filename="police.wav"`) {
		t.Errorf("administrator's download: %d %v", code, h)
	}
	// A file altered on disk is never served.
	os.WriteFile(filepath.Join(f.archive, "2026", "11", "27", "comm.wav"), []byte("altered"), 0o640)
	if code, body, _ := f.do(t, admin, "POST", fmt.Sprintf("/api/recordings/%d/ecoute", f.ids["comm"]), map[string]any{"purpose": "service"}); code != http.StatusConflict {
		t.Errorf("altered file: %d %s", code, body)
	}
	// Someone without a role sees nothing, and is told so.
	v := f.client(t)
	f.login(t, v, "visiteur", password)
	if code, _, _ := f.do(t, v, "GET", "/api/recordings", nil); code != 403 {
		t.Errorf("no role: %d", code)
	}
	// Repeated failures lock the account, even for the right password.
	x := f.client(t)
	for i := 0; i < 5; i++ {
		f.login(t, x, "visiteur", "faux mot de passe "+fmt.Sprint(i))
	}
	if res := f.login(t, x, "visiteur", password); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("locked account: %d", res.StatusCode)
	}
}

// TestConsoleDirectory: people of the city's directory log in with its
// password; its groups give roles (the IT department's group: everything),
// the rules' director_user a department; the access log says "ldap".
func TestConsoleDirectory(t *testing.T) {
	f := newFixture(t)
	police := f.client(t)
	if res := f.login(t, police, "chef.police", "wrong"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong directory password: %d", res.StatusCode)
	}
	if res := f.login(t, police, "chef.police", ldapPassword); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("directory login: %d", res.StatusCode)
	}
	code, body, _ := f.do(t, police, "GET", "/api/recordings", nil)
	if code != 200 || !strings.Contains(body, "police.wav") || strings.Contains(body, "comm.wav") || strings.Contains(body, "confidential.wav") {
		t.Errorf("the police director's list: %d %s", code, body)
	}
	dsi := f.client(t)
	f.login(t, dsi, "dsi", ldapPassword)
	code, body, _ = f.do(t, dsi, "GET", "/api/moi", nil)
	if code != 200 || !strings.Contains(body, `"role": "administrator"`) {
		t.Errorf("the directory's administrators' group: %d %s", code, body)
	}
	var sawLDAP bool
	for _, e := range f.accessLog(t) {
		sawLDAP = sawLDAP || (e.Action == "console login" && e.Login == "dsi" && e.Detail["source"] == "ldap" && e.Outcome == register.Granted)
	}
	if !sawLDAP {
		t.Error("the directory login is not in the access log with its source")
	}
}

// TestConsoleRegister: the IT director registers a written request and
// gives the IT department's opinion; the Greffe's reviewer reads the
// register and gives the Greffe's; the request is granted only when both
// agree, and one person cannot give both. A director does not read it.
func TestConsoleRegister(t *testing.T) {
	f := newFixture(t)
	it, greffe, director := f.client(t), f.client(t), f.client(t)
	f.login(t, it, "mlaroche", password)
	f.login(t, greffe, "mgreffe", password)
	f.login(t, director, "jtremblay", password)

	code, body, _ := f.do(t, it, "POST", "/api/requests", map[string]any{"received_on": "2026-11-26", "channel": "courriel",
		"requester": "Marie Gagnon", "purpose": "plainte", "subject": "accueil au poste de police", "recordings": []int64{f.ids["police"]}})
	if code != 200 || !strings.Contains(body, `"status": "received"`) {
		t.Fatalf("register: %d %s", code, body)
	}
	if code, _, _ := f.do(t, greffe, "POST", "/api/requests", map[string]any{"received_on": "2026-11-26", "channel": "courriel",
		"requester": "X", "purpose": "plainte", "subject": "s", "recordings": []int64{f.ids["police"]}}); code != 403 {
		t.Errorf("the Greffe registers: %d", code)
	}
	if code, _, _ := f.do(t, director, "GET", "/api/requests", nil); code != 403 {
		t.Errorf("a director reads the register: %d", code)
	}
	if code, _, _ := f.do(t, director, "GET", "/registre", nil); code != 404 {
		t.Errorf("a director's register page: %d", code)
	}
	if code, body, _ := f.do(t, greffe, "GET", "/api/requests", nil); code != 200 || !strings.Contains(body, "Marie Gagnon") || !strings.Contains(body, `"side": "greffe"`) {
		t.Errorf("the Greffe reads the register: %d %s", code, body)
	}
	if code, _, h := f.do(t, greffe, "GET", "/", nil); code != http.StatusSeeOther || h.Get("Location") != "/registre" {
		t.Errorf("the Greffe's home: %d %v", code, h.Get("Location"))
	}
	opinion := func(c *http.Client, grant bool) (int, string) {
		code, body, _ := f.do(t, c, "POST", "/api/requests/1/avis", map[string]any{"grant": grant, "note": "motifs"})
		return code, body
	}
	if code, body := opinion(it, true); code != 200 || !strings.Contains(body, `"status": "received"`) {
		t.Errorf("IT's opinion: %d %s", code, body)
	}
	if code, body := opinion(greffe, false); code != 200 || !strings.Contains(body, `"status": "received"`) {
		t.Errorf("the Greffe disagrees: %d %s", code, body)
	}
	if code, body := opinion(greffe, true); code != 200 || !strings.Contains(body, `"status": "granted"`) || !strings.Contains(body, `"greffe_reviewer": "mgreffe"`) {
		t.Errorf("both agree: %d %s", code, body)
	}
	if code, _ := opinion(it, false); code != http.StatusConflict {
		t.Errorf("an opinion after the decision: %d", code)
	}
	if code, body, _ := f.do(t, greffe, "GET", "/api/requests/1", nil); code != 200 || strings.Count(body, `"side": "`) < 3 {
		t.Errorf("the request with its opinions: %d %s", code, body)
	}
}

// TestConsolePagingAndExport: the list pages with its "next" cursor and
// keeps recordings of a minimum length; the register exports as CSV, with
// a requester's formula defused.
func TestConsolePagingAndExport(t *testing.T) {
	f := newFixture(t)
	admin := f.client(t)
	f.login(t, admin, "mlaroche", password)
	var page struct {
		Recordings []struct{ File string }
		Next       string
	}
	seen := map[string]bool{}
	q := "/api/recordings?limite=1"
	for i := 0; i < 6 && q != ""; i++ {
		code, body, _ := f.do(t, admin, "GET", q, nil)
		page.Next, page.Recordings = "", nil
		if err := json.Unmarshal([]byte(body), &page); err != nil || code != 200 {
			t.Fatalf("page %d: %d %s", i, code, body)
		}
		for _, r := range page.Recordings {
			if seen[r.File] {
				t.Errorf("%s shown twice", r.File)
			}
			seen[r.File] = true
		}
		q = ""
		if page.Next != "" {
			q = "/api/recordings?limite=1&apres=" + url.QueryEscape(page.Next)
		}
	}
	if len(seen) != len(f.ids) {
		t.Errorf("pages showed %v, want the %d recordings", seen, len(f.ids))
	}
	if code, body, _ := f.do(t, admin, "GET", "/api/recordings?duree_min=31", nil); code != 200 || strings.Contains(body, ".wav") {
		t.Errorf("minimum duration 31 s over 30 s recordings: %d %s", code, body)
	}
	if code, _, _ := f.do(t, admin, "GET", "/api/recordings?apres=hier", nil); code != 400 {
		t.Errorf("bad cursor: %d", code)
	}
	f.do(t, admin, "POST", "/api/requests", map[string]any{"received_on": "2026-11-26", "channel": "guichet",
		"requester": "=HYPERLINK(\"x\")", "purpose": "commentaire", "subject": "accueil", "recordings": []int64{f.ids["police"]}})
	code, body, h := f.do(t, admin, "GET", "/api/requests.csv", nil)
	if code != 200 || h.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.Contains(body, "numero,recue_le") ||
		!strings.Contains(body, `'=HYPERLINK`) {
		t.Errorf("CSV: %d %v %s", code, h, body)
	}
	director := f.client(t)
	f.login(t, director, "jtremblay", password)
	if code, _, _ := f.do(t, director, "GET", "/api/requests.csv", nil); code != 403 {
		t.Errorf("a director's export: %d", code)
	}
	// The access log, for the administrators, with its chain's state.
	if code, body, _ := f.do(t, admin, "GET", "/api/access-log?login=jtremblay", nil); code != 200 || !strings.Contains(body, `"console login"`) ||
		!strings.Contains(body, `"head_seq"`) || strings.Contains(body, `"login": "mlaroche"`) {
		t.Errorf("access log: %d %s", code, body)
	}
	if code, _, _ := f.do(t, director, "GET", "/api/access-log", nil); code != 403 {
		t.Errorf("a director reads the access log: %d", code)
	}
	if code, _, _ := f.do(t, director, "GET", "/journal", nil); code != 404 {
		t.Errorf("a director's access log page: %d", code)
	}
}

// TestConsoleReport: the IT director reads the month's compliance report
// (recomputed from the call records: the call 252 took before handing it
// to 801 has no recording of 252's), downloads it as CSV; a director gets
// the not-found page; bad parameters are refused with the fix.
func TestConsoleReport(t *testing.T) {
	f := newFixture(t)
	admin, director := f.client(t), f.client(t)
	f.login(t, admin, "mlaroche", password)
	f.login(t, director, "jtremblay", password)
	code, body, h := f.do(t, admin, "GET", "/rapport?mois=2026-11", nil)
	if code != 200 || !strings.Contains(h.Get("Content-Type"), "text/html") {
		t.Fatalf("report: %d %s", code, body)
	}
	for _, want := range []string{"Rapport de conformité", "<svg", "Ltransfert252", "Télécharger en CSV", `<style nonce="`} {
		if !strings.Contains(body, want) {
			t.Errorf("the report page has no %q", want)
		}
	}
	code, body, h = f.do(t, admin, "GET", "/rapport?mois=2026-11&service=police&format=csv", nil)
	if code != 200 || !strings.Contains(h.Get("Content-Disposition"), "rapport-conformite-2026-11-police.csv") || !strings.Contains(body, "couverture,police,801") {
		t.Errorf("report CSV: %d %v %s", code, h, body)
	}
	if code, _, _ := f.do(t, director, "GET", "/rapport?mois=2026-11", nil); code != 404 {
		t.Errorf("a director's report: %d, want the not-found page", code)
	}
	for _, q := range []string{"mois=novembre", "mois=2026-11&service=nulle-part", "mois=2026-11&format=docx"} {
		if code, body, _ := f.do(t, admin, "GET", "/rapport?"+q, nil); code != 400 || !strings.Contains(body, "«") {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
	var granted bool
	for _, e := range f.accessLog(t) {
		granted = granted || (e.Login == "mlaroche" && e.Action == "console report" && e.Outcome == register.Granted)
	}
	if !granted {
		t.Error("the report's reading is not in the access log")
	}
}
