package console

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/villedemercier/recpolicy/archive/register"
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
	if err != nil || !strings.Contains(list, "police.wav") || strings.Contains(list, "comm.wav") || strings.Contains(list, "confidential.wav") {
		t.Errorf("the director's list: %q %v", list, err)
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
	err = chromedp.Do(ctx,
		chromedp.Navigate(fmt.Sprintf("%s/enregistrements/%d", f.srv.URL, f.ids["comm"])),
	)
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("title").textContent === "Enregistrement introuvable" || null`,
			chromedp.WithPollingTimeout(10*time.Second)))
	}
	if err != nil {
		t.Fatalf("another department's recording: %v", err)
	}
	if err := chromedp.Do(ctx, shot(t, "introuvable")); err != nil {
		t.Error(err)
	}
	var listened, refused bool
	for _, e := range f.accessLog(t) {
		listened = listened || (e.Login == "chef.police" && e.Action == "console listen" && e.Outcome == register.Granted && e.Object == fmt.Sprint(f.ids["police"]))
		refused = refused || (e.Login == "chef.police" && e.Outcome == register.Refused && e.Object == fmt.Sprint(f.ids["comm"]))
	}
	if !listened || !refused {
		t.Errorf("access log: listen %v, refused other department %v", listened, refused)
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
		t.Errorf("the register: %+v %v", r, err)
	}
}
