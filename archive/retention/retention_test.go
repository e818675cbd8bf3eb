package retention

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/internal/redact"
)

func TestPurgeRetentionAndHolds(t *testing.T) {
	e := newRetentionEnv(t)
	ctx := t.Context()
	old := e.rec("235", "L-old", 400*day, "standard")
	young := e.rec("235", "L-young", 100*day, "standard")
	complaint := e.rec("245", "L-complaint", 400*day, "complaint") // its class keeps it 3 years
	heldRec := e.rec("235", "L-heldrec", 400*day, "standard")
	heldLinked := e.rec("252", "L-heldlinked", 500*day, "standard")
	heldExt := e.rec("800", "L-heldext", 420*day, "standard")
	releasedRecent := e.rec("800", "L-relrecent", 700*day, "standard")
	releasedLong := e.rec("801", "L-rellong", 1500*day, "standard")

	callOld := e.call("5145550100", "235", "L-old", 400*day)
	callYoung := e.call("5145550101", "235", "L-young", 100*day)
	callHeldLinked := e.call("5145550102", "252", "L-heldlinked", 500*day)
	callHeldExt := e.call("5145550103", "800", "L-other", 421*day) // no recording; the extension hold covers it
	callLoose := e.call("5145550104", "429", "L-loose", 800*day)   // nobody holds it

	hold := func(r HoldRequest) Hold {
		t.Helper()
		if r.Class == "" {
			r.Class = "complaint"
		}
		r.Case, r.Reason, r.Actor = "PL-2026-014", "plainte d'un citoyen", person
		h, err := e.store.AddHold(ctx, r, testClasses)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	hold(HoldRequest{RecordingID: heldRec.ID})
	hl := hold(HoldRequest{LinkedID: "L-heldlinked"})
	if hl.Recordings != 1 || hl.Calls != 1 {
		t.Errorf("linkedid hold covers %d recordings, %d calls; want 1, 1", hl.Recordings, hl.Calls)
	}
	he := hold(HoldRequest{Extension: "800", Since: e.now.Add(-425 * day), Until: e.now.Add(-415 * day)})
	if he.Recordings != 1 || he.Calls != 1 {
		t.Errorf("extension hold covers %d recordings, %d calls; want 1, 1", he.Recordings, he.Calls)
	}
	hr := hold(HoldRequest{RecordingID: releasedRecent.ID})
	if _, err := e.store.ReleaseHold(ctx, hr.ID, person, "plainte réglée", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ReleaseHold(ctx, hr.ID, person, "twice", false); !errors.Is(err, ErrAlreadyReleased) {
		t.Errorf("second release: %v, want ErrAlreadyReleased", err)
	}
	hlong := hold(HoldRequest{RecordingID: releasedLong.ID, Class: "complaint"})
	if _, err := e.store.ReleaseHold(ctx, hlong.ID, person, "jugement rendu", false); err != nil {
		t.Fatal(err)
	}
	// Released 1100 days ago: its complaint class (1095 days) has run out.
	if _, err := e.store.db.Exec(`UPDATE holds SET released_at = now() - interval '1100 days' WHERE id = $1`, hlong.ID); err != nil {
		t.Fatal(err)
	}

	// Dry run: says what would go, changes nothing.
	rep, err := e.purge(func(o *PurgeOptions) { o.DryRun = true })
	if err != nil {
		t.Fatal(err)
	}
	wantGone := []archive.StoredRecording{old, releasedLong}
	if len(rep.Recordings) != 2 || rep.Calls != 2 || rep.Held != 4 {
		t.Fatalf("dry run: %d recordings, %d calls, %d held; want 2, 2, 4: %+v", len(rep.Recordings), rep.Calls, rep.Held, rep)
	}
	for _, r := range wantGone {
		if !fileExists(r.Path) || !e.exists("recordings", r.ID) {
			t.Fatalf("dry run destroyed %s", r.Path)
		}
	}
	if logs, _ := e.store.ListDestructions(ctx, DestructionFilter{}); len(logs) != 0 {
		t.Fatalf("dry run logged %d destructions", len(logs))
	}

	var progress []int
	rep, err = e.purge(func(o *PurgeOptions) { o.Progress = func(done, total int) { progress = append(progress, done, total) } })
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recordings) != 2 || len(rep.Problems) != 0 {
		t.Fatalf("purge: %+v", rep)
	}
	if len(progress) != 4 || progress[2] != 2 || progress[3] != 2 {
		t.Errorf("progress %v", progress)
	}
	for _, r := range wantGone {
		if fileExists(r.Path) || e.exists("recordings", r.ID) {
			t.Errorf("%s (%s) not destroyed", r.Path, r.Extension)
		}
	}
	for _, r := range []archive.StoredRecording{young, complaint, heldRec, heldLinked, heldExt, releasedRecent} {
		if !fileExists(r.Path) || !e.exists("recordings", r.ID) {
			t.Errorf("%s (%s, %s) destroyed; it must be kept", r.Path, r.Extension, r.LinkedID)
		}
	}
	// Call records: the old one (its recording gone) and the loose one go.
	if e.exists("calls", callOld) || e.exists("calls", callLoose) {
		t.Error("old call records not purged")
	}
	for _, id := range []int64{callYoung, callHeldLinked, callHeldExt} {
		if !e.exists("calls", id) {
			t.Errorf("call %d purged; it must be kept", id)
		}
	}
	logs, err := e.store.ListDestructions(ctx, DestructionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, l := range logs {
		kinds[l.Kind]++
		if l.State != "done" || l.DestroyedAt == nil || l.Actor != "retention" || l.ActorKind != "job" || l.Reason == "" {
			t.Errorf("log row %+v", l)
		}
		if strings.Contains(string(l.Detail), "514555") {
			t.Errorf("log row carries a number: %s", l.Detail)
		}
	}
	if kinds["recording"] != 2 || kinds["call"] != 2 {
		t.Errorf("log kinds %v", kinds)
	}
	// A second purge finds nothing, and never touches the log.
	rep, err = e.purge(nil)
	if err != nil || len(rep.Recordings) != 0 || rep.Calls != 0 {
		t.Fatalf("second purge: %+v %v", rep, err)
	}
	if again, _ := e.store.ListDestructions(ctx, DestructionFilter{}); len(again) != len(logs) {
		t.Errorf("log rows %d, then %d", len(logs), len(again))
	}

	// Releasing the recording hold: kept for the class's duration after.
	holds, _ := e.store.ListHolds(ctx, false)
	if len(holds) != 3 {
		t.Fatalf("active holds %d, want 3", len(holds))
	}
	all, _ := e.store.ListHolds(ctx, true)
	if len(all) != 5 {
		t.Fatalf("all holds %d, want 5", len(all))
	}
}

func TestPurgeKeepsTamperedMissingAndUnknown(t *testing.T) {
	e := newRetentionEnv(t)
	tampered := e.rec("235", "L-t", 400*day, "standard")
	missing := e.rec("235", "L-m", 400*day, "standard")
	good := e.rec("235", "L-g", 400*day, "standard")
	odd := e.rec("235", "L-o", 400*day, "no-such-class")
	if err := os.WriteFile(tampered.Path, append(wav(0.5, 99), 1), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(missing.Path); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(e.archive, "2020", "stray.wav")
	os.MkdirAll(filepath.Dir(stray), 0o750)
	os.WriteFile(stray, []byte("not ours"), 0o640)
	old := e.now.Add(-2 * time.Hour)
	os.Chtimes(stray, old, old)

	rep, err := e.purge(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recordings) != 1 || rep.Recordings[0].ID != good.ID {
		t.Errorf("destroyed %+v, want only %d", rep.Recordings, good.ID)
	}
	byKind := map[string]int64{}
	for _, p := range rep.Problems {
		byKind[p.Kind] = p.ID
	}
	if byKind[archive.ProblemAltered] != tampered.ID || byKind[archive.ProblemMissing] != missing.ID || byKind[archive.ProblemUnknownClass] != odd.ID {
		t.Errorf("problems %+v", rep.Problems)
	}
	if !fileExists(tampered.Path) || !e.exists("recordings", tampered.ID) || !e.exists("recordings", missing.ID) {
		t.Error("a tampered or missing recording lost its file or row")
	}
	if !fileExists(stray) || !fileExists(odd.Path) {
		t.Error("a file the archive does not know (or of an unknown class) was deleted")
	}

	v, err := e.store.Verify(t.Context(), VerifyOptions{ArchiveDir: e.archive})
	if err != nil {
		t.Fatal(err)
	}
	if v.Checked != 3 || v.Count(archive.ProblemAltered) != 1 || v.Count(archive.ProblemMissing) != 1 || v.Count(archive.ProblemUnknown) != 1 || v.OK() {
		t.Errorf("verify: %+v", v)
	}
	for _, p := range v.Problems {
		if p.Kind == archive.ProblemUnknown && p.Path != stray {
			t.Errorf("unknown %s, want %s", p.Path, stray)
		}
	}
}

func TestPurgeRefusesWhenClockOrDataLookWrong(t *testing.T) {
	e := newRetentionEnv(t)
	for i := 0; i < 4; i++ {
		e.rec("235", "L-y", 10*day, "standard")
	}
	e.rec("235", "L-o", 400*day, "standard")
	e.rec("235", "L-o2", 400*day, "standard")
	// Two of six due: more than the default 20%.
	_, err := e.purge(func(o *PurgeOptions) { o.MaxShare = 0 })
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "2 of 6 recordings") {
		t.Fatalf("share: %v", err)
	}
	// A recording dated tomorrow: the clock is wrong.
	e.rec("235", "L-f", -day, "standard")
	_, err = e.purge(nil)
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "dated after now") {
		t.Fatalf("future: %v", err)
	}
	// This machine's clock an hour off the database's.
	_, err = e.purge(func(o *PurgeOptions) { o.Now = o.Now.Add(time.Hour) })
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "clock") {
		t.Fatalf("clock: %v", err)
	}
	if logs, _ := e.store.ListDestructions(t.Context(), DestructionFilter{}); len(logs) != 0 {
		t.Errorf("a refused purge destroyed %d", len(logs))
	}
	// A class shorter than a year is refused outright.
	_, err = e.purge(func(o *PurgeOptions) { o.Classes = Classes{"standard": 30 * day} })
	if err == nil || !strings.Contains(err.Error(), "one year") {
		t.Errorf("short class: %v", err)
	}
}

func TestDestructionLogAppendOnly(t *testing.T) {
	e := newRetentionEnv(t)
	e.rec("235", "L", 400*day, "standard")
	if _, err := e.purge(nil); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DELETE FROM destruction_log`, `UPDATE destruction_log SET reason = 'x'`, `TRUNCATE destruction_log`} {
		if _, err := e.store.db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", q, err)
		}
	}
}

func TestDestroyByHand(t *testing.T) {
	e := newRetentionEnv(t)
	ctx := t.Context()
	young := e.rec("235", "L-y", 30*day, "standard")
	old := e.rec("235", "L-o", 400*day, "standard")
	held := e.rec("235", "L-h", 400*day, "standard")
	if _, err := e.store.AddHold(ctx, HoldRequest{RecordingID: held.ID, Case: "LIT-7", Reason: "litige", Class: "litigation", Actor: person}, testClasses); err != nil {
		t.Fatal(err)
	}
	req := func(id int64) DestroyRequest {
		return DestroyRequest{ID: id, Area: e.archive, Reason: "demande traitée", Actor: person, Classes: testClasses}
	}
	var ne *NotOverError
	if _, err := e.store.Destroy(ctx, req(young.ID)); !errors.As(err, &ne) || ne.Expires.Before(e.now) {
		t.Errorf("young: %v", err)
	}
	if _, err := e.store.Destroy(ctx, req(held.ID)); !errors.Is(err, ErrHeld) {
		t.Errorf("held: %v", err)
	}
	r := req(old.ID)
	r.DryRun = true
	if d, err := e.store.Destroy(ctx, r); err != nil || !d.DryRun || !fileExists(old.Path) {
		t.Errorf("dry run: %+v %v", d, err)
	}
	if d, err := e.store.Destroy(ctx, req(old.ID)); err != nil || d.LogID == 0 || fileExists(old.Path) || e.exists("recordings", old.ID) {
		t.Errorf("old: %+v %v", d, err)
	}
	r = req(young.ID)
	r.Early = "directive DG-2026-03"
	d, err := e.store.Destroy(ctx, r)
	if err != nil || fileExists(young.Path) || !strings.Contains(d.Note, "DG-2026-03") {
		t.Errorf("early: %+v %v", d, err)
	}
	logs, _ := e.store.ListDestructions(ctx, DestructionFilter{})
	if len(logs) != 2 || logs[0].Actor != person.Name || logs[0].ActorKind != "person" || logs[0].Reason != "demande traitée" {
		t.Errorf("log %+v", logs)
	}
}

func TestResumePendingDestruction(t *testing.T) {
	e := newRetentionEnv(t)
	r := e.rec("235", "L", 400*day, "standard")
	// A crash after the pending row committed, before the file went.
	if _, err := e.store.db.Exec(`INSERT INTO destruction_log (kind, object_id, path, sha256, size, reason, actor, actor_kind, state)
VALUES ('recording', $1, $2, $3, $4, 'retention period over', 'retention', 'job', 'pending')`, r.ID, r.Path, r.SHA256, r.Size); err != nil {
		t.Fatal(err)
	}
	rep, err := e.purge(nil)
	if err != nil || rep.Resumed != 1 || fileExists(r.Path) || e.exists("recordings", r.ID) {
		t.Fatalf("resume: %+v %v", rep, err)
	}
	logs, _ := e.store.ListDestructions(t.Context(), DestructionFilter{})
	if len(logs) != 1 || logs[0].State != "done" || !strings.Contains(logs[0].Note, "later run") {
		t.Errorf("log %+v", logs)
	}
}

func TestTrainingKeep(t *testing.T) {
	if days, err := TrainingKeep(testClasses); err != nil || days != 365 {
		t.Errorf("the city's classes: %d days, %v", days, err)
	}
	if _, err := TrainingKeep(Classes{"standard": 365 * day}); !errors.Is(err, ErrNoTrainingClass) {
		t.Errorf("no training class: %v", err)
	}
}

func TestTrainingCopy(t *testing.T) {
	e := newRetentionEnv(t)
	ctx := t.Context()
	src := e.rec("235", "mercier-pbx-1795847182.138", 10*day, "standard")
	dir := filepath.Join(t.TempDir(), "formation")
	if _, err := e.store.ExportTraining(ctx, TrainingRequest{Source: src, ArchiveDir: e.archive, Dir: filepath.Join(e.archive, "t"), Actor: person, KeepDays: 365}); err == nil {
		t.Error("a training area inside the archive was accepted")
	}
	if _, err := e.store.ExportTraining(ctx, TrainingRequest{Source: src, ArchiveDir: e.archive, Dir: dir, Actor: person}); !errors.Is(err, ErrNoTrainingClass) {
		t.Errorf("a copy without a training class in the rules: %v", err)
	}
	tc, err := e.store.ExportTraining(ctx, TrainingRequest{Source: src, ArchiveDir: e.archive, Dir: dir, Actor: person, KeepDays: 365})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(tc.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, ident := range []string{"235", "5145550100", "1795847182", "LIST", "INFO", src.Start.Format("20060102")} {
		if strings.Contains(filepath.Base(tc.Path), ident) || bytes.Contains(b, []byte(ident)) && ident != "235" {
			t.Errorf("training copy %s carries %q", filepath.Base(tc.Path), ident)
		}
	}
	if !bytes.HasPrefix(b, []byte("RIFF")) || !bytes.Contains(b[:40], []byte("fmt ")) || tc.Duration != 0.5 || tc.Size != int64(len(b)) {
		t.Errorf("copy %+v, header %q", tc, b[:40])
	}
	list, _ := e.store.ListTraining(ctx)
	if len(list) != 1 || list[0].Class != TrainingRetention {
		t.Fatalf("list %+v", list)
	}
	// Not due yet; then a year and a day old.
	rep, err := e.purge(func(o *PurgeOptions) { o.TrainingDir = dir })
	if err != nil || len(rep.Training) != 0 {
		t.Fatalf("young copy: %+v %v", rep, err)
	}
	if _, err := e.store.db.Exec(`UPDATE training_copies SET created_at = now() - interval '366 days'`); err != nil {
		t.Fatal(err)
	}
	v, err := e.store.Verify(ctx, VerifyOptions{ArchiveDir: e.archive, TrainingDir: dir, UnknownGrace: -1})
	if err != nil || !v.OK() || v.Checked != 2 {
		t.Errorf("verify: %+v %v", v, err)
	}
	rep, err = e.purge(func(o *PurgeOptions) { o.TrainingDir = dir })
	if err != nil || len(rep.Training) != 1 || fileExists(tc.Path) || !fileExists(src.Path) {
		t.Fatalf("old copy: %+v %v", rep, err)
	}
}

// TestPurgeRemembersItsLastRunAndCaps: a purge notes when it ran; the next
// refuses when the clock moved back since, or forward further than the
// schedule explains (unless told the gap is known); one run destroys at
// most MaxPerRun files.
func TestPurgeRemembersItsLastRunAndCaps(t *testing.T) {
	e := newRetentionEnv(t)
	for i := range 3 {
		e.rec("235", fmt.Sprintf("L-old%d", i), 400*day, "standard")
	}
	e.rec("235", "L-young", 10*day, "standard")
	rep, err := e.purge(func(o *PurgeOptions) { o.MaxPerRun = 2; o.Period = day })
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recordings) != 2 || rep.Capped != 1 || rep.LastRun != nil {
		t.Fatalf("capped run: %d destroyed, %d left, last run %v; want 2, 1, none", len(rep.Recordings), rep.Capped, rep.LastRun)
	}
	// The next night: runs, and takes the one left.
	rep, err = e.purge(func(o *PurgeOptions) { o.Period = day })
	if err != nil || len(rep.Recordings) != 1 || rep.LastRun == nil {
		t.Fatalf("next run: %+v %v", rep, err)
	}
	// The last run ten days ago with a daily schedule: the clock jumped.
	if _, err := e.store.db.Exec(`UPDATE purge_runs SET ran_at = ran_at - interval '10 days'`); err != nil {
		t.Fatal(err)
	}
	var re *RefusedError
	_, err = e.purge(func(o *PurgeOptions) { o.Period = day })
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "jumped forward") || !strings.Contains(re.Hint, "--accept-gap") {
		t.Fatalf("gap: %v", err)
	}
	if _, err := e.purge(func(o *PurgeOptions) { o.Period = day; o.AcceptGap = true }); err != nil {
		t.Fatalf("accepted gap: %v", err)
	}
	// The last run tomorrow: the clock moved back.
	if _, err := e.store.db.Exec(`UPDATE purge_runs SET ran_at = now() + interval '1 day'`); err != nil {
		t.Fatal(err)
	}
	_, err = e.purge(func(o *PurgeOptions) { o.Period = day; o.AcceptGap = true })
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "moved back") {
		t.Fatalf("clock back: %v", err)
	}
}

// TestShorteningAClassNeverShortensAReleasedHold: a hold keeps, once
// released, for its class's duration when it was placed, even if the
// rules shorten the class since.
func TestShorteningAClassNeverShortensAReleasedHold(t *testing.T) {
	e := newRetentionEnv(t)
	ctx := t.Context()
	r := e.rec("235", "L-held", 800*day, "standard")
	for range 8 {
		e.rec("235", "L-young", 10*day, "standard")
	}
	h, err := e.store.AddHold(ctx, HoldRequest{RecordingID: r.ID, Class: "complaint", Case: "PL-1", Reason: "plainte", Actor: person}, testClasses)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ReleaseHold(ctx, h.ID, person, "réglée", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.db.Exec(`UPDATE holds SET released_at = now() - interval '400 days' WHERE id = $1`, h.ID); err != nil {
		t.Fatal(err)
	}
	shorter := Classes{"standard": 365 * day, "complaint": 365 * day, "training": 365 * day}
	rep, err := e.purge(func(o *PurgeOptions) { o.Classes = shorter })
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recordings) != 0 || rep.Held != 1 {
		t.Errorf("after shortening complaint to 365 days: %d destroyed, %d held; want 0, 1 (the hold keeps 1095 days from its release)", len(rep.Recordings), rep.Held)
	}
}

func TestScheduleAndRecordingHolds(t *testing.T) {
	e := newRetentionEnv(t)
	ctx := t.Context()
	overdue := e.rec("235", "L-overdue", 370*day, "standard")
	soon := e.rec("235", "L-soon", 360*day, "standard")   // due in about 5 days
	later := e.rec("245", "L-later", 300*day, "standard") // due in about 65 days
	e.rec("245", "L-far", 100*day, "standard")            // beyond the horizon
	heldSoon := e.rec("800", "L-held", 362*day, "standard")
	e.rec("801", "L-odd", 900*day, "no-such-class") // never destroyed, never listed
	h, err := e.store.AddHold(ctx, HoldRequest{LinkedID: "L-held", Case: "PL-1", Reason: "plainte", Class: "complaint", Actor: person}, testClasses)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := e.store.Schedule(ctx, ScheduleOptions{Classes: testClasses, Now: e.now, Horizon: 90 * day, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Overdue != 1 || sc.HeldPastDue != 0 {
		t.Errorf("overdue %d, held past due %d; want 1, 0", sc.Overdue, sc.HeldPastDue)
	}
	var ids []int64
	for _, d := range sc.Next {
		ids = append(ids, d.ID)
		if d.Held != (d.ID == heldSoon.ID) {
			t.Errorf("recording %d held=%v", d.ID, d.Held)
		}
	}
	if want := []int64{overdue.ID, heldSoon.ID, soon.ID, later.ID}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("next %v, want %v (overdue first, then by due date; nothing beyond the horizon or of an unknown class)", ids, want)
	}
	var total, held int64
	for _, d := range sc.Days {
		total += d.Recordings
		held += d.Held
	}
	if total != 2 || held != 1 {
		t.Errorf("days count %d to destroy and %d held; want 2 and 1: %+v", total, held, sc.Days)
	}
	hs, err := e.store.RecordingHolds(ctx, heldSoon.ID, testClasses, e.now)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[0].ID != h.ID || !hs[0].InForce {
		t.Errorf("holds of the held recording: %+v", hs)
	}
	if _, err := e.store.ReleaseHold(ctx, h.ID, person, "réglée", false); err != nil {
		t.Fatal(err)
	}
	// Released, the hold still keeps it for its class's duration.
	if hs, _ = e.store.RecordingHolds(ctx, heldSoon.ID, testClasses, e.now); len(hs) != 1 || !hs[0].InForce || hs[0].ReleasedAt == nil {
		t.Errorf("released hold: %+v", hs)
	}
	if hs, _ = e.store.RecordingHolds(ctx, soon.ID, testClasses, e.now); len(hs) != 0 {
		t.Errorf("holds of an unheld recording: %+v", hs)
	}
}

// stereoWAV is secs seconds of 8 kHz 16-bit stereo: 600 Hz on the left (the
// employee), 1400 Hz on the right (the citizen).
func stereoWAV(secs float64) []byte {
	n := int(secs * 8000)
	b := []byte("RIFF")
	b = binary.LittleEndian.AppendUint32(b, uint32(36+4*n))
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint32(b, 8000)
	b = binary.LittleEndian.AppendUint32(b, 32000)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint16(b, 16)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(4*n))
	for i := range n {
		t := float64(i) / 8000
		b = binary.LittleEndian.AppendUint16(b, uint16(int16(9000*math.Sin(2*math.Pi*600*t))))
		b = binary.LittleEndian.AppendUint16(b, uint16(int16(9000*math.Sin(2*math.Pi*1400*t))))
	}
	return b
}

// TestRedactedTrainingCopy: a two-channel recording's copy with the
// citizen's channel masked over an interval: the employee's channel
// identical sample for sample, the citizen's identical outside the padded
// interval and a 1 kHz tone inside; a random name, no metadata; the
// redaction logged with its source; refused unless the whole call was
// heard; with the citizen's channel dropped, the employee's alone.
func TestRedactedTrainingCopy(t *testing.T) {
	trainingName := regexp.MustCompile(`^formation-[0-9a-f]+\.wav$`)
	e := newRetentionEnv(t)
	ctx := t.Context()
	data := stereoWAV(3)
	p := filepath.Join(e.archive, "2026", "11", "30", "20261130-1000-235.wav")
	os.MkdirAll(filepath.Dir(p), 0o750)
	os.WriteFile(p, data, 0o640)
	sum := sha256.Sum256(data)
	src := archive.StoredRecording{Recording: archive.Recording{Path: p, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Extension: "235"}}
	if err := e.store.db.QueryRow(`INSERT INTO recordings (path, sha256, size, duration, extension, start_time) VALUES ($1, $2, $3, 3, '235', now()) RETURNING id`,
		p, src.SHA256, src.Size).Scan(&src.ID); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "training")
	mask, err := ParseMask("1-2:citizen")
	if err != nil {
		t.Fatal(err)
	}
	req := RedactedRequest{TrainingRequest: TrainingRequest{Source: src, ArchiveDir: e.archive, Dir: dir, Actor: person, KeepDays: 365}, Masks: []redact.Mask{mask}}
	if _, err := e.store.ExportRedacted(ctx, req); !errors.Is(err, ErrNotHeard) {
		t.Fatalf("not heard whole: %v", err)
	}
	req.HeardAll = true
	rc, err := e.store.ExportRedacted(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// The copy's name never tells the extension: "formation-" and random
	// hexadecimal digits only (which may hold "235" by chance, as the
	// test's own temporary folder may), in the copies' folder.
	if !trainingName.MatchString(filepath.Base(rc.Path)) || filepath.Dir(rc.Path) != dir || len(rc.Masks) != 1 || rc.Masks[0].Start != 750*time.Millisecond {
		t.Errorf("copy %+v", rc)
	}
	out, err := os.ReadFile(rc.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(data) || bytes.Contains(out, []byte("LIST")) {
		t.Fatalf("copy of %d bytes (source %d)", len(out), len(data))
	}
	s, en := int(0.75*8000), int(2.25*8000)
	for i := range 3 * 8000 {
		l, r := out[44+4*i:44+4*i+2], out[44+4*i+2:44+4*i+4]
		if !bytes.Equal(l, data[44+4*i:44+4*i+2]) {
			t.Fatalf("the employee's channel changed at frame %d", i)
		}
		if (i < s || i >= en) && !bytes.Equal(r, data[44+4*i+2:44+4*i+4]) {
			t.Fatalf("the citizen's channel changed outside the mask at frame %d", i)
		}
	}
	var logged struct {
		source  int64
		masks   string
		fill    string
		by      string
		heard   bool
		dropped *int64
	}
	if err := e.store.db.QueryRow(`SELECT source_recording_id, masks::text, fill, confirmed_by, heard_all, dropped_channel FROM training_redactions WHERE copy_id = $1`, rc.ID).
		Scan(&logged.source, &logged.masks, &logged.fill, &logged.by, &logged.heard, &logged.dropped); err != nil {
		t.Fatal(err)
	}
	if logged.source != src.ID || logged.fill != "tone" || logged.by != person.Name || !logged.heard || logged.dropped != nil || !strings.Contains(logged.masks, `"channels": [1]`) {
		t.Errorf("redaction log %+v", logged)
	}
	citizen := 1
	req.Drop, req.Fill, req.Masks = &citizen, redact.Silence, nil
	mono, err := e.store.ExportRedacted(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(mono.Path)
	if binary.LittleEndian.Uint16(b[22:]) != 1 || len(b) != 44+2*3*8000 {
		t.Fatalf("dropped copy: %d channels, %d bytes", binary.LittleEndian.Uint16(b[22:]), len(b))
	}
	for i := range 3 * 8000 {
		if !bytes.Equal(b[44+2*i:46+2*i], data[44+4*i:46+4*i]) {
			t.Fatalf("the dropped copy differs from the employee's channel at frame %d", i)
		}
	}
}
