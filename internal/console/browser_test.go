package console

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/archive/retention"
	"github.com/villedemercier/recpolicy/internal/transmit"
	"github.com/villedemercier/recpolicy/rules"
)

// chromium is Debian's browser, which docker/sandbox installs; the test
// fails (never skips) without it.
const chromium = "/usr/bin/chromium"

// screenshotDir is where the browser tests keep their screenshots
// ($RECPOLICY_SCREENSHOTS, or a folder in the system's temp).
func screenshotDir(t *testing.T) string {
	d := os.Getenv("RECPOLICY_SCREENSHOTS")
	if d == "" {
		d = filepath.Join(os.TempDir(), "recpolicy-screenshots")
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// browser starts a headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromium); err != nil {
		t.Fatalf("%s is missing: docker/sandbox up installs Debian's chromium (apt-get install chromium)", chromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.IgnoreCertErrors, // the test server's own certificate
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

// shot keeps a screenshot of the page as test output.
func shot(t *testing.T, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(screenshotDir(t), name+".png"), buf, 0o644)
	})
}

// TestBrowserDirector: the police director logs in with Chromium through
// the city's directory (LDAP), sees the police's recording and never the
// others (nor the confidential extension's), opens it, is asked the
// purpose, plays it (the audio element's time advances) and the access log
// holds that listen; another department's recording, opened by its URL,
// shows the not-found page and is logged as refused.
func TestBrowserDirector(t *testing.T) {
	f := newFixture(t)
	ctx := browser(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	err := chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/enregistrements"),
		chromedp.WaitVisible(css(`#identifiant`)),
		shot(t, "connexion"),
		chromedp.SendKeys(css(`#identifiant`), "chef.police"),
		chromedp.SendKeys(css(`#mot_de_passe`), ldapPassword),
		chromedp.Submit(css(`#mot_de_passe`)),
		chromedp.WaitVisible(css(`#results tbody tr`)),
		shot(t, "enregistrements"),
	)
	if err != nil {
		t.Fatalf("login and list: %v", err)
	}
	list, err := chromedp.Run(ctx, chromedp.Text(css(`#results`)))
	if err != nil || !strings.Contains(list, "police.wav") || strings.Contains(list, "comm.wav") || strings.Contains(list, "confidential.wav") ||
		strings.Contains(list, "transfert252.wav") {
		t.Errorf("the director's list (police only, never 252's calls nor one 252 handed to 801): %q %v", list, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(fmt.Sprintf("%s/enregistrements/%d", f.srv.URL, f.ids["police"])),
		chromedp.WaitVisible(css(`#purpose-form`)),
		chromedp.SetValue(css(`#purpose`), "service"),
		chromedp.Click(css(`#purpose-form button`)),
		chromedp.WaitVisible(css(`#player`)),
	)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	played, err := chromedp.Run(ctx, chromedp.Poll[float64](`(() => { const t = document.getElementById("audio").currentTime; return t > 1 ? t : null })()`,
		chromedp.WithPollingTimeout(20*time.Second)))
	status, _ := chromedp.Run(ctx, chromedp.Text(css(`#status`)))
	if err != nil || played <= 1 || !strings.Contains(status, "Finalité journalisée") {
		t.Fatalf("playing: %.1f s, %v, status %q", played, err, status)
	}
	// The waveform is drawn (wavesurfer.js, its style allowed by the nonce).
	drawn, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const h = document.querySelector("#waveform > div"); return !!(h && h.shadowRoot && h.shadowRoot.querySelector("canvas")) || null })()`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || !drawn {
		t.Errorf("waveform: %v", err)
	}
	if err := chromedp.Do(ctx, shot(t, "ecoute")); err != nil {
		t.Error(err)
	}
	// Another department's recording, and the call 252 handed to the
	// police's 801, opened by their URLs: not found, alike.
	for _, label := range []string{"comm", "transfert252"} {
		err = chromedp.Do(ctx,
			chromedp.Navigate(fmt.Sprintf("%s/enregistrements/%d", f.srv.URL, f.ids[label])),
		)
		if err == nil {
			_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("title").textContent === "Enregistrement introuvable" || null`,
				chromedp.WithPollingTimeout(10*time.Second)))
		}
		if err != nil {
			t.Fatalf("recording %s by its URL: %v", label, err)
		}
		if hidden, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("details").hidden`)); !hidden {
			t.Errorf("recording %s: its facts show on the not-found page", label)
		}
	}
	if err := chromedp.Do(ctx, shot(t, "introuvable")); err != nil {
		t.Error(err)
	}
	var listened, refused, refused252 bool
	for _, e := range f.accessLog(t) {
		listened = listened || (e.Login == "chef.police" && e.Action == "console listen" && e.Outcome == register.Granted && e.Object == fmt.Sprint(f.ids["police"]))
		refused = refused || (e.Login == "chef.police" && e.Outcome == register.Refused && e.Object == fmt.Sprint(f.ids["comm"]))
		refused252 = refused252 || (e.Login == "chef.police" && e.Outcome == register.Refused && e.Object == fmt.Sprint(f.ids["transfert252"]))
	}
	if !listened || !refused || !refused252 {
		t.Errorf("access log: listen %v, refused other department %v, refused 252's handed call %v", listened, refused, refused252)
	}
}

// TestBrowserRegister: in Chromium, the IT director registers a written
// request and gives the IT department's opinion; a Greffe reviewer, on the
// register page she lands on, gives the Greffe's; the request is granted,
// decided by the two.
func TestBrowserRegister(t *testing.T) {
	f := newFixture(t)
	ctx := browser(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	login := func(who string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.Navigate(f.srv.URL+"/connexion"),
			chromedp.WaitVisible(css(`#identifiant`)),
			chromedp.SendKeys(css(`#identifiant`), who),
			chromedp.SendKeys(css(`#mot_de_passe`), password),
			chromedp.Submit(css(`#mot_de_passe`)),
			chromedp.WaitVisible(css(`.bar`)), // a page of the console, logged in
		)
	}
	opinion := chromedp.Steps(
		chromedp.WaitVisible(css(`#opinion-form`)),
		chromedp.Click(css(`#opinion-form input[value="1"]`)),
		chromedp.SendKeys(css(`#opinion-form textarea`), "plainte documentée, enregistrement visé"),
		chromedp.Click(css(`#opinion-form button`)),
	)
	err := chromedp.Do(ctx,
		login("mlaroche"),
		chromedp.Navigate(f.srv.URL+"/registre"),
		chromedp.WaitVisible(css(`#add-form`)),
		chromedp.SetValue(css(`#add-form input[name="received_on"]`), "2026-11-26"),
		chromedp.SendKeys(css(`#add-form input[name="requester"]`), "Marie Gagnon"),
		chromedp.SendKeys(css(`#add-form input[name="subject"]`), "accueil au poste de police"),
		chromedp.SendKeys(css(`#add-form input[name="recordings"]`), fmt.Sprint(f.ids["police"])),
		chromedp.Click(css(`#add-form button`)),
		opinion,
	)
	if err != nil {
		chromedp.Do(context.WithoutCancel(ctx), shot(t, "registre-erreur"))
		st, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Location())
		t.Fatalf("the IT director registers and gives an opinion: %v (at %s)", err, st)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("opinions").textContent.includes("Direction des TI, mlaroche : accorder") || null`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the IT department's opinion is not shown: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css(`.bar form button`)), // se déconnecter
		chromedp.WaitVisible(css(`#identifiant`)),
		login("mgreffe"),
		chromedp.WaitVisible(css(`#requests tbody tr`)), // the Greffe lands on the register
		chromedp.Click(css(`#requests tbody tr a`)),
		opinion,
	)
	if err != nil {
		t.Fatalf("the Greffe gives its opinion: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("title").textContent.includes("accordée") || null`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		title, _ := chromedp.Run(ctx, chromedp.Text(css(`#title`)))
		t.Fatalf("the request is not granted: %v (%q)", err, title)
	}
	if err := chromedp.Do(ctx, shot(t, "registre")); err != nil {
		t.Error(err)
	}
	r, err := register.NewStore(f.st).GetRequest(t.Context(), 1)
	if err != nil || r.Status != register.RequestGranted || r.DecidedBy != "mlaroche" || r.GreffeReviewer != "mgreffe" {
		t.Fatalf("the register: %+v %v", r, err)
	}

	// The IT director fulfils it: the package is made, its passphrase shown
	// once; Debian's age opens it and its signature verifies.
	err = chromedp.Do(ctx,
		chromedp.Click(css(`.bar form button`)),
		chromedp.WaitVisible(css(`#identifiant`)),
		login("mlaroche"),
		chromedp.Navigate(f.srv.URL+"/registre/1"),
		chromedp.WaitVisible(css(`#package-form`)),
		chromedp.SendKeys(css(`#package-form input[name="to"]`), "Me Lucie Avocate"),
		chromedp.SendKeys(css(`#package-form input[name="via"]`), "courriel"),
		chromedp.Click(css(`#package-form button`)),
		chromedp.WaitVisible(css(`#package-made`)),
		shot(t, "demande-paquet"),
	)
	if err != nil {
		st, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Text(css(`#status`)))
		t.Fatalf("the IT director makes the package: %v (%q)", err, st)
	}
	pass, err := chromedp.Run(ctx, chromedp.Text(css(`#passphrase`)))
	if err != nil || len(pass) < transmit.MinPassphrase {
		t.Fatalf("passphrase %q: %v", pass, err)
	}
	b64, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
  const res = await fetch(document.getElementById("package-link").href);
  if (!res.ok) throw new Error("download " + res.status);
  const b = new Uint8Array(await res.arrayBuffer());
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("download the package: %v", err)
	}
	pkg, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	checkPackage(t, pkg, pass, f)

	// The holder confirms the copies destroyed; then the request closes.
	err = chromedp.Do(ctx,
		chromedp.WaitVisible(css(`#destruction-form`)),
		chromedp.SendKeys(css(`#destruction-form textarea`), "courriel de Me Avocate du 2026-12-10 : copies détruites"),
		chromedp.Click(css(`#destruction-form button`)),
		chromedp.WaitVisible(css(`#close-form`)),
		chromedp.SendKeys(css(`#close-form textarea`), "plainte traitée, copies détruites"),
		chromedp.Click(css(`#close-form button`)),
	)
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("title").textContent.includes("fermée") || null`,
			chromedp.WithPollingTimeout(10*time.Second)))
	}
	if err != nil {
		st, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Text(css(`#status`)))
		t.Fatalf("confirm destruction and close: %v (%q)", err, st)
	}
	ts, err := register.NewStore(f.st).ListTransmissions(t.Context(), register.TransmissionFilter{RequestID: 1})
	if err != nil || len(ts) != 1 || ts[0].Recipient != "Me Lucie Avocate" || ts[0].DestroyedStatement == nil || ts[0].PackageSHA256 != sha256Hex(pkg) {
		t.Errorf("the register's transmissions: %+v %v", ts, err)
	}
}

// checkPackage opens a transmission package with Debian's age (the
// passphrase typed on a terminal, as the requester would) and checks it
// holds the police recording, and verifies it as recpolicy package verify
// does, with the city's public key.
func checkPackage(t *testing.T, pkg []byte, pass string, f *fixture) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "demande-1.tar.age")
	if err := os.WriteFile(file, pkg, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("script", "-q", "-e", "-c", "age -d -o "+filepath.Join(dir, "paquet.tar")+" "+file, "/dev/null")
	cmd.Stdin = strings.NewReader(pass + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("age -d: %v: %s", err, out)
	}
	list, err := exec.Command("tar", "-tf", filepath.Join(dir, "paquet.tar")).CombinedOutput()
	if err != nil || !strings.Contains(string(list), transmit.ManifestName) || !strings.Contains(string(list), "police.wav") {
		t.Errorf("the package holds %q (%v)", list, err)
	}
	key, err := transmit.LoadKey(f.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	v, err := transmit.Verify(bytes.NewReader(pkg), pass, key.Public().(ed25519.PublicKey))
	if err != nil || len(v.Manifest.Files) != 1 || v.Manifest.Recipient != "Me Lucie Avocate" {
		t.Errorf("verify: %+v %v", v, err)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestBrowserRetentionAndTamperedLog: the IT director sees the holds and
// what retention will destroy and when, a recording's page shows its hold,
// and a row of the access log altered in the database shows the chain
// broken on the access log's page.
func TestBrowserRetentionAndTamperedLog(t *testing.T) {
	f := newFixture(t)
	ctx := browser(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	rl, err := rules.Load(f.rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := retention.NewStore(f.st).AddHold(t.Context(), retention.HoldRequest{RecordingID: f.ids["police"], Case: "PL-2026-031",
		Reason: "plainte de Marie Gagnon", Class: "complaint", Actor: retention.Actor{Name: "mlaroche"}}, retention.Classes(rl.Retention())); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/connexion"),
		chromedp.WaitVisible(css(`#identifiant`)),
		chromedp.SendKeys(css(`#identifiant`), "mlaroche"),
		chromedp.SendKeys(css(`#mot_de_passe`), password),
		chromedp.Submit(css(`#mot_de_passe`)),
		chromedp.WaitVisible(css(`.bar`)),
		chromedp.Navigate(f.srv.URL+"/conservation"),
		chromedp.WaitVisible(css(`#holds tbody tr`)),
		chromedp.SetValue(css(`#horizon input[name="jours"]`), "400"),
		chromedp.Click(css(`#horizon button`)),
	)
	if err != nil {
		t.Fatalf("retention page: %v", err)
	}
	// The fixture's recordings end on 2026-11-27 and keep 365 days: three
	// fall due on 2027-11-27, the held one is kept.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#days tbody").textContent.includes("2027-11-27") || null`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("the retention schedule: %v", err)
	}
	page, _ := chromedp.Run(ctx, chromedp.Text(css(`main`)))
	if !strings.Contains(page, "PL-2026-031") || !strings.Contains(page, "gardé par une retenue") || !strings.Contains(page, "Prochaine purge") {
		t.Errorf("the retention page: %q", page)
	}
	if err := chromedp.Do(ctx, shot(t, "conservation")); err != nil {
		t.Error(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(fmt.Sprintf("%s/enregistrements/%d", f.srv.URL, f.ids["police"])),
		chromedp.WaitVisible(css(`#holds li`)),
	)
	holds, _ := chromedp.Run(ctx, chromedp.Text(css(`#holds`)))
	if err != nil || !strings.Contains(holds, "PL-2026-031") || !strings.Contains(holds, "en vigueur") {
		t.Errorf("the recording's holds: %q %v", holds, err)
	}
	// The month's compliance report, as the IT director reads it.
	err = chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/rapport?mois=2026-11"),
		chromedp.WaitVisible(css(`form.console`)),
	)
	page, _ = chromedp.Run(ctx, chromedp.Text(css(`body`)))
	if err != nil || !strings.Contains(page, "Rapport de conformité") || !strings.Contains(page, "Ltransfert252") {
		t.Errorf("the report page: %v %q", err, page)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg").length`)); n < 2 {
		t.Errorf("the report page draws %d charts", n)
	}
	if err := chromedp.Do(ctx, shot(t, "rapport")); err != nil {
		t.Error(err)
	}
	// A row of the access log altered behind the console's back.
	for _, q := range []string{`ALTER TABLE access_log DISABLE TRIGGER USER`,
		`UPDATE access_log SET login = 'quelquun' WHERE chain_seq = 2`, `ALTER TABLE access_log ENABLE TRIGGER USER`} {
		if _, err := f.st.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	err = chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+"/journal"))
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`(document.getElementById("chain").textContent.includes("rompue") && document.getElementById("chain").textContent.includes("la ligne a été modifiée")) || null`,
			chromedp.WithPollingTimeout(10*time.Second)))
	}
	if err != nil {
		chain, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Text(css(`#chain`)))
		t.Errorf("the access log's page does not show the broken chain: %v (%q)", err, chain)
	}
	if err := chromedp.Do(ctx, shot(t, "journal-rompu")); err != nil {
		t.Error(err)
	}
}

// TestBrowserTraining: in Chromium, a trainer goes from the recording's
// page to its training page, opens it (purpose logged), finds the DTMF key
// proposed, plays the call through at double speed until the console
// counts every second heard, marks an interval with the keyboard (M twice),
// replays it (R), switches its channel (C) and back, previews the copy,
// confirms and produces it; the copy masks the citizen's channel there and
// nowhere else.
func TestBrowserTraining(t *testing.T) {
	f := newFixture(t)
	id := f.addStereo(t)
	ctx := browser(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	err := chromedp.Do(ctx,
		chromedp.Navigate(fmt.Sprintf("%s/enregistrements/%d", f.srv.URL, id)),
		chromedp.WaitVisible(css(`#identifiant`)),
		chromedp.SendKeys(css(`#identifiant`), "formateur"),
		chromedp.SendKeys(css(`#mot_de_passe`), password),
		chromedp.Submit(css(`#mot_de_passe`)),
		chromedp.WaitVisible(css(`#results`)),
		chromedp.Navigate(fmt.Sprintf("%s/enregistrements/%d", f.srv.URL, id)),
		chromedp.WaitVisible(css(`#train`)),
		chromedp.Click(css(`#train`)),
		chromedp.WaitVisible(css(`#open`)),
		chromedp.Click(css(`#open`)),
		chromedp.WaitVisible(css(`#editor`)),
	)
	if err != nil {
		t.Fatalf("open for training: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#masks").textContent.includes("touche 5") || null`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the DTMF key proposed: %v", err)
	}
	// Play it all at double speed.
	err = chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("speed"); s.value = "2"; s.dispatchEvent(new Event("change")); })()`),
		chromedp.Click(css(`#play`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("coverage").textContent.includes("Tout l'appel") || null`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		cov, _ := chromedp.Run(ctx, chromedp.Text(css(`#coverage`)))
		t.Fatalf("every second heard: %v (%q)", err, cov)
	}
	if disabled, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("confirm").disabled`)); disabled {
		t.Fatal("the confirmation stays disabled once the call was heard")
	}
	// Mark 1.2–2.0 s with the keyboard, replay it, switch its channel.
	seek := func(s float64) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const a = document.getElementById("audio"); a.pause(); a.currentTime = %g; })()`, s))
	}
	err = chromedp.Do(ctx,
		seek(1.2), chromedp.Sleep(200*time.Millisecond), chromedp.KeyEvent("m"),
		seek(2.0), chromedp.Sleep(200*time.Millisecond), chromedp.KeyEvent("m"),
	)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Poll[int](`(() => { const n = document.querySelectorAll("#masks tbody tr").length; return n === 2 ? n : null })()`,
		chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil || rows != 2 {
		txt, _ := chromedp.Run(ctx, chromedp.Text(css(`#masks`)))
		t.Fatalf("the marked interval: %d rows, %v (%q)", rows, err, txt)
	}
	// At normal speed, R plays 1.2–2.0 s again.
	err = chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("speed"); s.value = "1"; s.dispatchEvent(new Event("change")); })()`),
		chromedp.KeyEvent("r"))
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const a = document.getElementById("audio"); return (!a.paused && a.currentTime >= 1.2 && a.currentTime <= 2.1) || null })()`,
			chromedp.WithPollingTimeout(5*time.Second)))
	}
	if err != nil {
		t.Fatalf("R replays the interval: %v", err)
	}
	channel := `document.querySelector("#masks tr.selected select").value`
	err = chromedp.Do(ctx, chromedp.KeyEvent("c"))
	both, _ := chromedp.Run(ctx, chromedp.Evaluate[string](channel))
	err2 := chromedp.Do(ctx, chromedp.KeyEvent("c"))
	citizen, _ := chromedp.Run(ctx, chromedp.Evaluate[string](channel))
	if err != nil || err2 != nil || both != "both" || citizen != "citizen" {
		t.Errorf("C switches the channel: %q then %q (%v %v)", both, citizen, err, err2)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css(`#preview-button`)),
		chromedp.WaitVisible(css(`#preview`)),
		shot(t, "formation"),
		chromedp.Click(css(`#confirm`)),
		chromedp.Click(css(`#produce`)),
	)
	if err != nil {
		t.Fatalf("preview and produce: %v", err)
	}
	result, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => { const t = document.getElementById("result").textContent; return t || null })()`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || !strings.Contains(result, "Copie produite : formation-") {
		t.Fatalf("the copy: %q %v", result, err)
	}
	// What was heard is reported again each second: the button stays off
	// until the operator confirms anew for another copy.
	time.Sleep(1500 * time.Millisecond)
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const b = document.getElementById("produce"), c = document.getElementById("confirm"); return b.disabled + " " + c.checked + " " + b.textContent })()`))
	if err != nil || state != "true false Produire une autre copie" {
		t.Errorf("after the copy, the button (disabled, confirmed, label): %q %v", state, err)
	}
	if err := chromedp.Do(ctx, shot(t, "formation-copie")); err != nil {
		t.Error(err)
	}
	rs := f.redactions(t)
	if len(rs) != 1 || len(rs[0].masks) != 2 || rs[0].by != "formateur" {
		t.Fatalf("the redaction log: %+v", rs)
	}
	var spans [][2]float64
	marked := false
	for _, m := range rs[0].masks {
		spans = append(spans, [2]float64{m.Start, m.End})
		marked = marked || (math.Abs(m.Start-0.95) < 0.1 && math.Abs(m.End-2.25) < 0.1 && len(m.Channels) == 1 && m.Channels[0] == 1)
	}
	if !marked {
		t.Errorf("no mask 1.2–2.0 s (padded 0.95–2.25) on the citizen's channel: %+v", rs[0].masks)
	}
	data, err := os.ReadFile(rs[0].path)
	if err != nil {
		t.Fatal(err)
	}
	// The marked interval first: checkRedacted looks for the tone there.
	if spans[0][0] > 2 {
		spans[0], spans[1] = spans[1], spans[0]
	}
	checkRedacted(t, f.wavs["stereo"], data, spans)
}
