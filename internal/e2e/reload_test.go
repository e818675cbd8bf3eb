package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// metric reads one unlabelled metric from the daemon's /metrics.
func metric(t *testing.T, name string) string {
	t.Helper()
	resp, err := http.Get(h.metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return v
		}
	}
	return ""
}

func writeRules(t *testing.T, content string) {
	t.Helper()
	if err := os.WriteFile(h.rulesFile, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	h.reload <- struct{}{}
}

// keepRules returns the rules file's content and, when the test ends,
// puts it back and waits until the daemon has reloaded it (every part has
// taken it: the reload is counted after they have).
func keepRules(t *testing.T) string {
	t.Helper()
	good, err := os.ReadFile(h.rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		const ok = `recpolicy_rules_reloads_total{result="success"}`
		before := metric(t, ok)
		writeRules(t, string(good))
		deadline := time.Now().Add(10 * time.Second)
		for metric(t, ok) == before && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		waitMetric(t, "recpolicy_rules_last_reload_failed", "0")
	})
	return string(good)
}

// waitMetric waits until the metric has the value.
func waitMetric(t *testing.T, name, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if metric(t, name) == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("metric %s is %q, want %q", name, metric(t, name), want)
}

// TestReloadBrokenEditWhileCallsRunChangesNothing: a broken rules file saved
// during a call is refused; the call in progress and the next call are
// recorded under the rules in force.
func TestReloadBrokenEditWhileCallsRunChangesNothing(t *testing.T) {
	good := keepRules(t)
	mark := h.filedCount()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	call, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+"236", "5145550111", sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, call, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// A typo (unknown key) and 236 dropped from Annexe A: refused as a whole.
	broken := strings.Replace(good, "timezone:", "timezon:", 1)
	broken = strings.Replace(broken, "number: 236", "number: 2366", 1)
	writeRules(t, broken)
	waitMetric(t, "recpolicy_rules_last_reload_failed", "1")
	time.Sleep(time.Second)
	if err := h.driver.Hangup(ctx, call); err != nil {
		t.Fatal(err)
	}
	placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Inbound(ctx, sandbox.DIDPrefix+"236", "5145550112", sandbox.Options{})
	}, 2*time.Second)
	waitFiled(t, mark, 2, time.Second)
	got := h.filedSince(mark)
	if len(got) != 2 || got[0].Recording.Extension != "236" || got[1].Recording.Extension != "236" {
		t.Fatalf("after a broken edit: filed %+v, want two recordings of 236", got)
	}
}

// TestReloadValidEditKeepsCallSnapshot: a valid edit that removes an
// extension from Annexe A applies to new calls only; the call in progress
// keeps the rules it started with.
func TestReloadValidEditKeepsCallSnapshot(t *testing.T) {
	good := keepRules(t)
	// Drop extension 237 (a whole list item) from Annexe A.
	lines := strings.Split(good, "\n")
	var kept []string
	for i := 0; i < len(lines); i++ {
		if strings.Contains(lines[i], "number: 237") {
			// skip this item's lines (until the next item or blank line)
			for i+1 < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i+1]), "- ") && strings.TrimSpace(lines[i+1]) != "" {
				i++
			}
			continue
		}
		kept = append(kept, lines[i])
	}
	edited := strings.Join(kept, "\n")
	if edited == good {
		t.Fatal("test setup: extension 237 not found in the rules file")
	}
	mark := h.filedCount()
	reloads := metric(t, `recpolicy_rules_reloads_total{result="success"}`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	call, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+"237", "5145550113", sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, call, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	writeRules(t, edited)
	deadline := time.Now().Add(10 * time.Second)
	for metric(t, `recpolicy_rules_reloads_total{result="success"}`) == reloads && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if metric(t, "recpolicy_rules_last_reload_failed") != "0" {
		t.Fatal("the edited rules file was refused; the test's edit must be valid")
	}
	time.Sleep(time.Second)
	if err := h.driver.Hangup(ctx, call); err != nil {
		t.Fatal(err)
	}
	placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Inbound(ctx, sandbox.DIDPrefix+"237", "5145550114", sandbox.Options{})
	}, 2*time.Second)
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 || got[0].Recording.Extension != "237" {
		t.Fatalf("filed %+v, want exactly the call in progress at the edit (237), not the one after", got)
	}
}

// TestReloadReachesEveryPart: a valid edit reaches every part that depends
// on the rules at once, each saying so in the log, and the new version is
// kept in the database.
func TestReloadReachesEveryPart(t *testing.T) {
	good := keepRules(t)
	edited := strings.Replace(good, "sound: recpolicy/avis-enregistrement", "sound: recpolicy/avis-enregistrement-2", 1)
	edited = strings.Replace(edited, `retention: "30 3 * * *"`, `retention: "45 3 * * *"`, 1)
	if edited == good || !strings.Contains(edited, `"45 3 * * *"`) {
		t.Fatal("test setup: the greeting sound or the retention schedule was not found in the rules file")
	}
	reloads := metric(t, `recpolicy_rules_reloads_total{result="success"}`)
	writeRules(t, edited)
	deadline := time.Now().Add(10 * time.Second)
	want := []string{"greeting took the new rules", "jobs took the new rules: rescheduled", "tracker took the new rules"}
	var missing []string
	for time.Now().Before(deadline) {
		log, err := os.ReadFile(h.logPath)
		if err != nil {
			t.Fatal(err)
		}
		missing = missing[:0]
		for _, w := range want {
			if !strings.Contains(string(log), w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Fatalf("after a reload the log lacks %q", missing)
	}
	if metric(t, `recpolicy_rules_reloads_total{result="success"}`) == reloads {
		t.Error("the reload was not counted")
	}
	db, err := sql.Open("postgres", h.env.PGDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	for time.Now().Before(deadline.Add(20 * time.Second)) {
		if err := db.QueryRow(`SELECT count(*) FROM rules_versions WHERE content LIKE '%avis-enregistrement-2%'`).Scan(&n); err == nil && n > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n == 0 {
		t.Error("the new rules version is not in rules_versions")
	}
}
