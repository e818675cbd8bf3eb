package access

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/query"
	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/rules"
)

// fakeStore answers like the archive for the guard's decisions, and keeps
// what it was asked and what was logged.
type fakeStore struct {
	log        []register.AccessEntry
	logErr     error
	recFilter  *query.RecordingFilter
	callFilter *query.CallFilter
	recordings map[string]archive.StoredRecording // by ref
	hidden     map[int64]bool
	covers     map[int64][]int64 // request → recordings
}

func (f *fakeStore) LogAccess(_ context.Context, e register.AccessEntry) (int64, error) {
	if f.logErr != nil {
		return 0, f.logErr
	}
	f.log = append(f.log, e)
	return int64(len(f.log)), nil
}

func (f *fakeStore) ListRecordings(_ context.Context, fl query.RecordingFilter) ([]archive.StoredRecording, error) {
	f.recFilter = &fl
	var out []archive.StoredRecording
	for _, r := range f.recordings {
		if (!fl.ByExtension || slices.Contains(fl.Extensions, r.Extension)) && !(fl.Hidden.Directors && f.hidden[r.ID]) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b archive.StoredRecording) int { return int(a.ID - b.ID) })
	return out, nil
}

func (f *fakeStore) ListCalls(_ context.Context, fl query.CallFilter) ([]query.Call, error) {
	f.callFilter = &fl
	return nil, nil
}

func (f *fakeStore) FindRecording(_ context.Context, ref string) (archive.StoredRecording, error) {
	if r, ok := f.recordings[ref]; ok {
		return r, nil
	}
	return archive.StoredRecording{}, archive.ErrNotFound
}

func (f *fakeStore) RecordingHidden(_ context.Context, id int64, c query.Confidential) (bool, error) {
	if !c.Directors {
		return false, errors.New("the guard must ask with the directors' filter")
	}
	return f.hidden[id], nil
}

func (f *fakeStore) RequestCovers(_ context.Context, id, rec int64) error {
	if slices.Contains(f.covers[id], rec) {
		return nil
	}
	return register.ErrRequestState
}

func cityRules(t *testing.T) *rules.Rules {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "rules", "mercier.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	src = []byte(strings.Replace(string(src), "  - id: greffe\n", "  - id: greffe\n    director_user: dferland\n", 1))
	src = []byte(strings.Replace(string(src), "  - id: police\n", "  - id: police\n    director_user: chef\n", 1))
	r, err := rules.Parse("mercier.yaml", src, filepath.Join("..", "..", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func store() *fakeStore {
	rec := func(id int64, ext string) archive.StoredRecording {
		return archive.StoredRecording{ID: id, Recording: archive.Recording{Extension: ext, SHA256: strings.Repeat("a", 64)}}
	}
	return &fakeStore{
		recordings: map[string]archive.StoredRecording{
			"1": rec(1, "242"), // greffe
			"2": rec(2, "252"), // greffe, confidential
			"3": rec(3, "801"), // police
			"4": rec(4, "245"), // greffe and communications-ti, in a call with 252
			"5": rec(5, "261"), // greffe, not tied to its call yet
		},
		hidden: map[int64]bool{2: true, 4: true, 5: true},
		covers: map[int64][]int64{7: {3}},
	}
}

func TestResolve(t *testing.T) {
	r := cityRules(t)
	tests := []struct {
		login, role string
		exts        []string
		notExts     []string
	}{
		{"root", RoleAdministrator, nil, nil},
		{"mlaroche", RoleAdministrator, nil, nil},
		{"dferland", RoleDirector, []string{"242", "245", "260", "261"}, []string{"252", "801", "235"}},
		{"chef", RoleDirector, []string{"801", "809"}, []string{"242"}},
		{"jdoe", RoleNone, nil, nil},
		{"", RoleNone, nil, nil},
	}
	for _, tt := range tests {
		v := Resolve(Identity{Login: tt.login}, Rights{Administrators: []string{"root", "mlaroche"}}, r)
		if v.Role != tt.role {
			t.Errorf("%s: role %s, want %s", tt.login, v.Role, tt.role)
		}
		for _, e := range tt.exts {
			if !slices.Contains(v.Extensions, e) {
				t.Errorf("%s: does not see %s", tt.login, e)
			}
		}
		for _, e := range tt.notExts {
			if slices.Contains(v.Extensions, e) {
				t.Errorf("%s: sees %s", tt.login, e)
			}
		}
		if tt.role == RoleDirector && (!v.Hidden.Directors || !slices.Contains(v.Hidden.Numbers, "252") || len(v.Endpoints) != len(v.Extensions)) {
			t.Errorf("%s: confidentiality filter %+v", tt.login, v.Hidden)
		}
	}
}

func TestGuardListsWhatEachMaySee(t *testing.T) {
	r := cityRules(t)
	admins := []string{"root"}
	tests := []struct {
		login  string
		q      Query
		want   []int64
		denied bool
	}{
		{login: "root", want: []int64{1, 2, 3, 4, 5}},
		{login: "dferland", want: []int64{1}},
		{login: "dferland", q: Query{ByExtension: true, Extensions: []string{"252", "801", "242"}, Endpoints: []string{"252", "801", "242"}}, want: []int64{1}},
		{login: "chef", want: []int64{3}},
		{login: "jdoe", denied: true},
	}
	for _, tt := range tests {
		t.Run(tt.login, func(t *testing.T) {
			st := store()
			g := NewGuard(st, Resolve(Identity{Login: tt.login}, Rights{Administrators: admins}, r), "")
			recs, err := g.ListRecordings(t.Context(), "recordings list", "--all", tt.q)
			if tt.denied {
				if !errors.Is(err, ErrAccessDenied) || len(st.log) != 1 || st.log[0].Outcome != register.Refused {
					t.Fatalf("err %v, log %+v: want a logged refusal", err, st.log)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, r := range recs {
				ids = append(ids, r.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("sees %v, want %v", ids, tt.want)
			}
			if len(st.log) != 1 || st.log[0].Outcome != register.Granted || st.log[0].Login != tt.login {
				t.Errorf("log %+v, want one grant", st.log)
			}
			if tt.login != "root" && (!st.recFilter.ByExtension || !st.recFilter.Hidden.Directors) {
				t.Errorf("a director's list went unnarrowed: %+v", st.recFilter)
			}
		})
	}
}

func TestGuardHandsOverOneRecording(t *testing.T) {
	r := cityRules(t)
	req := int64(7)
	tests := []struct {
		login, ref string
		request    *int64
		ok         bool
		why        string
	}{
		{"root", "2", nil, true, ""},
		{"root", "3", &req, true, ""},
		{"root", "1", &req, false, "request"},
		{"dferland", "1", nil, true, ""},
		{"dferland", "2", nil, false, "professional confidentiality"},
		{"dferland", "4", nil, false, "professional confidentiality"},
		{"dferland", "5", nil, false, "cannot be tied to its call"},
		{"dferland", "3", nil, false, "outside your department"},
		{"dferland", "1", &req, false, "IT department"},
		{"dferland", "99", nil, false, "not found"},
		{"jdoe", "1", nil, false, "no access"},
	}
	for _, tt := range tests {
		st := store()
		g := NewGuard(st, Resolve(Identity{Login: tt.login, By: "root"}, Rights{Administrators: []string{"root"}}, r), "")
		rec, err := g.Recording(t.Context(), "recordings get", tt.ref, "qualité", tt.request, map[string]any{"out": "/tmp/x.wav"})
		if tt.ok != (err == nil) || !tt.ok && !strings.Contains(err.Error(), tt.why) {
			t.Errorf("%s gets %s (request %v): %v, want ok %v (%s)", tt.login, tt.ref, tt.request, err, tt.ok, tt.why)
			continue
		}
		last := st.log[len(st.log)-1]
		if tt.ok && (last.Outcome != register.Granted || last.Object != tt.ref || rec.ID == 0 || last.Detail["out"] != "/tmp/x.wav") {
			t.Errorf("%s gets %s: last log %+v", tt.login, tt.ref, last)
		}
		if !tt.ok && last.Outcome != register.Refused {
			t.Errorf("%s gets %s: refusal not logged: %+v", tt.login, tt.ref, st.log)
		}
		if last.Detail["acting_root"] != "root" {
			t.Errorf("the log does not name the root acting as %s: %+v", tt.login, last.Detail)
		}
	}
}

func TestGuardShowsNothingTheLogCannotHold(t *testing.T) {
	st := store()
	st.logErr = errors.New("permission denied for table access_log")
	g := NewGuard(st, Resolve(Identity{Login: "root"}, Rights{Administrators: []string{"root"}}, cityRules(t)), "is the schema migrated?")
	if recs, err := g.ListRecordings(t.Context(), "recordings list", "", Query{}); !errors.Is(err, ErrNotLogged) || recs != nil {
		t.Errorf("list: %v %v, want nothing shown", recs, err)
	}
	if _, err := g.Recording(t.Context(), "recordings get", "1", "x", nil, nil); !errors.Is(err, ErrNotLogged) {
		t.Errorf("get: %v, want ErrNotLogged", err)
	}
	if err := g.Authorize(t.Context(), "retention purge", "", true); !errors.Is(err, ErrNotLogged) {
		t.Errorf("admin action: %v, want ErrNotLogged", err)
	}
}

func TestGuardKeepsAdministratorsActionsForThem(t *testing.T) {
	r := cityRules(t)
	for _, login := range []string{"dferland", "jdoe"} {
		st := store()
		g := NewGuard(st, Resolve(Identity{Login: login}, Rights{Administrators: []string{"root"}}, r), "")
		if err := g.Authorize(t.Context(), "hold add", "", true); !errors.Is(err, ErrAccessDenied) || len(st.log) != 1 || st.log[0].Outcome != register.Refused {
			t.Errorf("%s: %v %+v, want a logged refusal", login, err, st.log)
		}
	}
	st := store()
	if err := NewGuard(st, Resolve(Identity{Login: "root"}, Rights{Administrators: []string{"root"}}, r), "").Authorize(t.Context(), "hold add", "", true); err != nil || len(st.log) != 1 || st.log[0].Outcome != register.Granted {
		t.Errorf("root: %v %+v", err, st.log)
	}
}

// TestGreffeReviewersReadTheRegisterOnly: a Greffe reviewer reads the
// register of written requests and nothing else, unless also a director;
// directors and others do not read it.
func TestGreffeReviewersReadTheRegisterOnly(t *testing.T) {
	r := cityRules(t)
	rights := Rights{Administrators: []string{"root"}, GreffeReviewers: []string{"mgreffe", "dferland"}}
	tests := []struct {
		login          string
		role           string
		register, list bool
	}{
		{"root", RoleAdministrator, true, true},
		{"mgreffe", RoleReviewer, true, false},
		{"dferland", RoleDirector, true, true}, // the clerk directs the Greffe and reviews
		{"chef", RoleDirector, false, true},
		{"jdoe", RoleNone, false, false},
	}
	for _, tt := range tests {
		st := store()
		g := NewGuard(st, Resolve(Identity{Login: tt.login}, rights, r), "")
		if g.Viewer().Role != tt.role {
			t.Errorf("%s: role %s, want %s", tt.login, g.Viewer().Role, tt.role)
		}
		if err := g.AuthorizeRegister(t.Context(), "requests list", ""); (err == nil) != tt.register {
			t.Errorf("%s reads the register: %v, want %v", tt.login, err, tt.register)
		}
		if _, err := g.ListRecordings(t.Context(), "recordings list", "", Query{}); (err == nil) != tt.list {
			t.Errorf("%s lists recordings: %v, want %v", tt.login, err, tt.list)
		}
		for _, e := range st.log {
			if e.Role != tt.role {
				t.Errorf("%s logged as %s", tt.login, e.Role)
			}
		}
	}
}

// TestTheCommandLineIsTheAdministrators: only administrators (and root
// acting as someone, to see what they see) use the command line; a
// director or a reviewer is refused, logged, and sent to the console.
func TestTheCommandLineIsTheAdministrators(t *testing.T) {
	r := cityRules(t)
	rights := Rights{Administrators: []string{"root"}, GreffeReviewers: []string{"mgreffe"}}
	for _, tt := range []struct {
		id Identity
		ok bool
	}{
		{Identity{Login: "root"}, true},
		{Identity{Login: "dferland", By: "root"}, true},
		{Identity{Login: "dferland"}, false},
		{Identity{Login: "mgreffe"}, false},
		{Identity{Login: "jdoe"}, false},
	} {
		st := store()
		err := NewGuard(st, Resolve(tt.id, rights, r), "").AuthorizeTool(t.Context(), "recordings list")
		if tt.ok != (err == nil) {
			t.Errorf("%+v: %v", tt.id, err)
		}
		if !tt.ok && (!errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "use the console") || len(st.log) != 1 || st.log[0].Outcome != register.Refused) {
			t.Errorf("%+v: %v %+v, want a logged refusal naming the console", tt.id, err, st.log)
		}
	}
}
