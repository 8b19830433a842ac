package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/report"
	"github.com/ghprune/ghprune/simulator"
)

// The end-to-end tests of the production-safety findings: each drives the
// real commands over loopback against the simulator, or a small hostile
// server in front of it.

// front starts a server in front of the simulator: handle answers a request
// itself (true) or lets the simulator answer it (false). It returns the URL.
func (h *harness) front(handle func(w http.ResponseWriter, r *http.Request) bool) string {
	h.t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !handle(w, r) {
			h.sim.ServeHTTP(w, r)
		}
	}))
	h.t.Cleanup(srv.Close)
	return srv.URL
}

// configAt writes a config whose API and registry are at url.
func (h *harness) configAt(url, github, policies string) string {
	h.t.Helper()
	body := fmt.Sprintf("version: 1\ngithub:\n  api_url: %[1]s\n  registry_url: %[1]s\n%[2]slimits:\n  mutations_per_minute: 60\n  budget_share: 1\nstate:\n  path: %[3]s\npolicies:\n%[4]s",
		url, github, filepath.Join(h.dir, "journal.db"), policies)
	path := filepath.Join(h.dir, "ghprune.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return path
}

const oldLibsPolicy = "  - name: libs\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n"

// seedLibs seeds acme's npm package lib with n versions 40..(40+n) days old
// and one new one, and returns the ids by name.
func (h *harness) seedLibs(n int) map[string]int64 {
	var vs []simulator.VersionSeed
	for i := 0; i < n; i++ {
		vs = append(vs, simulator.VersionSeed{Name: fmt.Sprintf("1.0.%d", i), CreatedAt: h.ago(day * 40).Add(-day * 1 * time.Duration(n-i))})
	}
	vs = append(vs, simulator.VersionSeed{Name: "2.0.0", CreatedAt: h.ago(day)})
	return h.pkg("acme", "npm", "lib", "private", vs...)
}

// Finding 1: the shipped manifest sets token_file alone; it must run.
func TestSafety_TokenFileAloneRuns(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seedLibs(2)
	tok := filepath.Join(h.dir, "token")
	os.WriteFile(tok, []byte(testToken+"\n"), 0o600) // a mounted secret ends in a newline
	cfg := h.configAt(h.url, "  token_file: "+tok+"\n", oldLibsPolicy)
	code, r, errOut := h.runJSON("plan", "-config", cfg)
	if code != 0 || r.Summary.Delete != 2 {
		t.Fatalf("plan with token_file alone: exit %d, %d to delete\n%s", code, r.Summary.Delete, errOut)
	}
	h.assertNoToken()
}

// Finding 1: a token with a line break inside is a config error: exit 2,
// nothing sent, the token not echoed.
func TestSafety_TokenWithLineBreakIsConfigError(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seedLibs(2)
	for name, content := range map[string]string{"two lines": testToken + "\nsecond-line\n", "carriage return": testToken + "\rX", "tab": "ghp_a\tb"} {
		t.Run(name, func(t *testing.T) {
			tok := filepath.Join(h.dir, "token")
			os.WriteFile(tok, []byte(content), 0o600)
			cfg := h.configAt(h.url, "  token_file: "+tok+"\n", oldLibsPolicy)
			h.sim.ResetStats()
			code, _, errOut := h.run("plan", "-config", cfg)
			if code != exitUsage || !strings.Contains(errOut, "line break, space or other control character") {
				t.Fatalf("exit %d, want 2 with the reason:\n%s", code, errOut)
			}
			if n := h.sim.Stats().Requests; n != 0 {
				t.Errorf("%d requests sent with a broken token", n)
			}
			if strings.Contains(errOut, "second-line") || strings.Contains(errOut, "E2Etoken") {
				t.Errorf("the token is echoed:\n%s", errOut)
			}
		})
	}
}

// evil is a server on another origin that records what reaches it and
// passes it on to the simulator, so that following a redirect there would
// really delete.
type evil struct {
	mu       sync.Mutex
	requests []string
	auth     int
	url      string
}

func (h *harness) evil() *evil {
	ev := &evil{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev.mu.Lock()
		ev.requests = append(ev.requests, r.Method+" "+r.URL.Path)
		if r.Header.Get("Authorization") != "" {
			ev.auth++
		}
		ev.mu.Unlock()
		h.sim.ServeHTTP(w, r)
	}))
	h.t.Cleanup(srv.Close)
	ev.url = srv.URL
	return ev
}

// Finding 2: a DELETE answered with a redirect to another origin is not
// followed (the token stays home) and is a failure, never a deletion.
func TestSafety_RedirectedDeleteIsNeitherFollowedNorJournaledAsDeleted(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	ids := h.seedLibs(2)
	ev := h.evil()
	api := h.front(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete || (r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/versions/")) {
			http.Redirect(w, r, ev.url+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			return true
		}
		return false
	})
	cfg := h.configAt(api, "", oldLibsPolicy)
	code, r, errOut := h.runJSON("apply", "-config", cfg)
	if code != exitFailed {
		t.Errorf("apply exit %d, want 1 (the deletes failed)\n%s", code, errOut)
	}
	for _, d := range r.Policies[0].Packages[0].Decisions {
		if d.Outcome == report.OutcomeDeleted {
			t.Errorf("version %s recorded as deleted after a redirect", d.Version)
		}
	}
	if len(ev.requests) != 0 {
		t.Errorf("the other origin received %v (%d with Authorization)", ev.requests, ev.auth)
	}
	for name, id := range ids {
		if v := h.version(id); v.DeletedAt != nil {
			t.Errorf("%s deleted", name)
		}
	}
	_, hist, _ := h.run("history", "-config", cfg, "-run", "1", "-format", "json")
	if strings.Contains(hist, `"state": "deleted"`) {
		t.Errorf("the journal records a deletion:\n%s", hist)
	}
	h.assertNoToken()
}

// Finding 3: versions whose date is null, empty, missing, unreadable or in
// the future are kept, with the raw value and a warning; the rest goes on.
func TestSafety_UndatedVersionsAreKept(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	old := h.ago(90 * day)
	ids := h.pkg("acme", "npm", "lib", "private",
		simulator.VersionSeed{Name: "0.9.0", CreatedAt: old},
		simulator.VersionSeed{Name: "null", CreatedAt: old, CreatedAtJSON: "null"},
		simulator.VersionSeed{Name: "empty", CreatedAt: old, CreatedAtJSON: `""`},
		simulator.VersionSeed{Name: "missing", CreatedAt: old, CreatedAtJSON: "-"},
		simulator.VersionSeed{Name: "garbage", CreatedAt: old, CreatedAtJSON: `"last tuesday"`},
		simulator.VersionSeed{Name: "future", CreatedAt: h.ago(-400 * day)},
		simulator.VersionSeed{Name: "2.0.0", CreatedAt: h.ago(day)})
	cfg := h.config("  - name: libs\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: npm}\n    keep: [{name: newest, versions: [\"*\"], most_recent: 1}]\n    delete: [{name: old, versions: [\"*\"], older_than: 30d}]\n")
	code, r, errOut := h.runJSON("apply", "-config", cfg)
	if code != 0 {
		t.Fatalf("apply exit %d\n%s", code, errOut)
	}
	want := map[string]string{
		"lib/0.9.0": "delete delete:old deleted", "lib/2.0.0": "keep keep:newest",
		"lib/null": "keep invalid-time", "lib/empty": "keep invalid-time", "lib/missing": "keep invalid-time",
		"lib/garbage": "keep invalid-time", "lib/future": "keep invalid-time",
	}
	if got := h.decisions(r); !mapsEqual(got, want) {
		t.Fatalf("decisions:\n got %v\nwant %v", got, want)
	}
	for _, d := range r.Policies[0].Packages[0].Decisions {
		if d.Version == "garbage" && !strings.Contains(d.Reason, `"last tuesday"`) {
			t.Errorf("reason %q lacks the raw value", d.Reason)
		}
	}
	if w := strings.Join(r.Policies[0].Warnings, "\n"); !strings.Contains(w, "5 versions kept because a date is missing, unreadable or in the future") {
		t.Errorf("no warning about the undated versions: %q", w)
	}
	if st := h.sim.Stats(); st.Deletes != 1 {
		t.Errorf("%d deletes, want 1", st.Deletes)
	}
	if v := h.version(ids["2.0.0"]); v.DeletedAt != nil {
		t.Error("the newest dated version was pushed out by the future one")
	}
}

// Finding 4: an alias bomb in a config is refused quickly with a located
// error: 200 policies, each of 200 rules, each of 200 tags, written in a
// few KB through aliases that the decoder would expand to 8 million values.
func TestSafety_AliasBombRefused(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	rep := func(s string, n int) string { return strings.TrimSuffix(strings.Repeat(s+", ", n), ", ") }
	bomb := "version: 1\nx-tag: &t \"a*\"\npolicies:\n" +
		"  - &pol\n    name: p\n    select: {owner: acme, owner_type: org, package_type: container}\n" +
		"    keep:\n      - &rule {name: r, tags: [" + rep("*t", 200) + "]}\n" +
		strings.Repeat("      - *rule\n", 199) + strings.Repeat("  - *pol\n", 199)
	path := filepath.Join(h.dir, "bomb.yaml")
	os.WriteFile(path, []byte(bomb), 0o600)
	code, _, errOut := h.run("validate", "-config", path)
	if code != exitUsage || !strings.Contains(errOut, "bomb.yaml:") || !strings.Contains(errOut, "alias") {
		t.Fatalf("validate exit %d, want 2 with a located error about aliases:\n%.2000s", code, errOut)
	}
	if len(errOut) > 64<<10 {
		t.Errorf("%d bytes of errors for one bomb", len(errOut))
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Finding 6: a second enforcing process on the journal is refused with the
// holder named and sends nothing; plan and history do not wait for it.
func TestSafety_SecondEnforcingProcessIsRefused(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seedLibs(3)
	cfg := h.config(oldLibsPolicy)
	j, err := journal.Open(context.Background(), filepath.Join(h.dir, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	lock, err := j.LockEnforce(journal.HolderFor("ghprune serve", t0))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()

	code, _, errOut := h.run("apply", "-config", cfg, "-format", "json")
	if code != exitFailed || !strings.Contains(errOut, fmt.Sprintf("in use by ghprune serve (pid %d", os.Getpid())) {
		t.Fatalf("apply beside a holder: exit %d, want 1 naming the holder:\n%s", code, errOut)
	}
	if n := h.sim.Stats().ByOp["DELETE version"]; n != 0 {
		t.Fatalf("%d DELETEs sent beside another enforcing process", n)
	}
	if code, _, errOut := h.run("plan", "-config", cfg, "-format", "json"); code != 0 {
		t.Errorf("plan waited or failed beside the holder: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := h.run("history", "-config", cfg, "-format", "json"); code != 0 {
		t.Errorf("history failed beside the holder: exit %d\n%s", code, errOut)
	}
	lock.Release()
	if code, r, errOut := h.runJSON("apply", "-config", cfg); code != 0 || r.Summary.Deleted != 3 {
		t.Fatalf("apply after the holder left: exit %d, %d deleted\n%s", code, r.Summary.Deleted, errOut)
	}
}

// Finding 6: a DELETE answered 404 because someone else deleted the version
// first is recorded as already gone, not as a deletion of this run, and a
// restore of the run leaves it alone.
func TestSafety_DeleteAnswered404IsAlreadyGone(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	ids := h.seedLibs(2)
	api := h.front(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, fmt.Sprint(ids["1.0.0"])) {
			h.sim.Remove(ids["1.0.0"]) // another tool got there first
		}
		return false
	})
	cfg := h.configAt(api, "", oldLibsPolicy)
	code, r, errOut := h.runJSON("apply", "-config", cfg)
	if code != 0 {
		t.Fatalf("apply exit %d\n%s", code, errOut)
	}
	if got := h.decisions(r)["lib/1.0.0"]; got != "delete delete:old skipped" {
		t.Errorf("1.0.0: %q, want skipped as already gone", got)
	}
	if r.Summary.Deleted != 1 {
		t.Errorf("deleted = %d, want 1 (only 1.0.1 is this run's)", r.Summary.Deleted)
	}
	_, hist, _ := h.run("history", "-config", cfg, "-run", "1", "-format", "json")
	var hj struct{ Deletions []journal.Deletion }
	json.Unmarshal([]byte(hist), &hj)
	states := map[string]string{}
	for _, d := range hj.Deletions {
		states[d.Version] = d.State
	}
	if states["1.0.0"] != journal.StateGone || states["1.0.1"] != journal.StateDeleted {
		t.Errorf("journal states %v, want 1.0.0 gone and 1.0.1 deleted", states)
	}
	h.sim.ResetStats()
	code, out, errOut := h.run("restore", "-config", cfg, "-run", "1", "-format", "json")
	if code != 0 || h.restorePosts() != 1 {
		t.Errorf("restore -run 1: exit %d, %d restores sent, want 0 and 1\n%s%s", code, h.restorePosts(), out, errOut)
	}
}

// Finding 7: a restore exits 0 only when every version it matched is
// active on GitHub afterwards, whatever the answers said.
func TestSafety_RestoreChecksGitHubAfterwards(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	ids := h.seedLibs(2)
	liar := false
	api := h.front(func(w http.ResponseWriter, r *http.Request) bool {
		if liar && r.Method == http.MethodPost && strings.Contains(r.URL.Path, fmt.Sprint(ids["1.0.0"])) {
			w.WriteHeader(http.StatusNoContent) // "restored", but nothing was
			return true
		}
		return false
	})
	cfg := h.configAt(api, "", oldLibsPolicy)
	if code, _, errOut := h.run("apply", "-config", cfg, "-format", "json"); code != 0 {
		t.Fatalf("apply exit %d\n%s", code, errOut)
	}
	liar = true
	code, out, errOut := h.run("restore", "-config", cfg, "-run", "1", "-format", "table")
	if code != exitFailed || !strings.Contains(errOut, fmt.Sprintf("version %d of lib", ids["1.0.0"])) || !strings.Contains(errOut, "not active on GitHub") {
		t.Fatalf("restore exit %d, want 1 naming the version still deleted:\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "1 of 2 active on GitHub now") {
		t.Errorf("summary does not say what is back:\n%s", out)
	}
	liar = false
	if code, out, errOut := h.run("restore", "-config", cfg, "-run", "1", "-format", "table"); code != 0 {
		t.Fatalf("second restore exit %d:\n%s%s", code, out, errOut)
	}
}

// Finding 8: history and restore never create a journal, and -run N for a
// run the journal lacks is an error.
func TestSafety_HistoryAndRestoreNeverCreateAJournal(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seedLibs(1)
	cfg := h.config(oldLibsPolicy)
	path := filepath.Join(h.dir, "journal.db")
	for _, args := range [][]string{
		{"history", "-config", cfg},
		{"history", "-config", cfg, "-run", "1"},
		{"restore", "-config", cfg, "-run", "1"},
		{"restore", "-config", cfg, "-since", "2h", "-dry-run"},
	} {
		code, _, errOut := h.run(args...)
		if code != exitUsage || !strings.Contains(errOut, path) {
			t.Errorf("%v: exit %d, want 2 naming %s:\n%s", args, code, path, errOut)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("%v created the journal", args)
		}
	}
	if code, _, errOut := h.run("apply", "-config", cfg, "-format", "json"); code != 0 {
		t.Fatalf("apply: %d\n%s", code, errOut)
	}
	for _, args := range [][]string{{"history", "-config", cfg, "-run", "7"}, {"restore", "-config", cfg, "-run", "7"}} {
		if code, _, errOut := h.run(args...); code != exitUsage || !strings.Contains(errOut, "has no run 7") {
			t.Errorf("%v: exit %d, want 2:\n%s", args, code, errOut)
		}
	}
}

// Finding 9: -o never names the journal, its companions or the config, and
// a failed command leaves an existing report as it was.
func TestSafety_ReportFileNeverDestroysJournalOrConfig(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seedLibs(2)
	cfg := h.config(oldLibsPolicy)
	if code, _, errOut := h.run("apply", "-config", cfg, "-format", "json"); code != 0 {
		t.Fatalf("apply: %d\n%s", code, errOut)
	}
	db := filepath.Join(h.dir, "journal.db")
	sum := func(p string) [32]byte { return sha256.Sum256([]byte(mustRead(t, p))) }
	before, cfgBefore := sum(db), sum(cfg)
	for _, target := range []string{db, db + "-wal", db + "-shm", cfg, filepath.Join(h.dir, ".", "journal.db")} {
		code, _, errOut := h.run("plan", "-config", cfg, "-o", target)
		if code != exitUsage || !strings.Contains(errOut, "write the report elsewhere") {
			t.Errorf("plan -o %s: exit %d, want 2:\n%s", target, code, errOut)
		}
	}
	if sum(db) != before || sum(cfg) != cfgBefore {
		t.Fatal("the journal or the config changed")
	}
	// A command that fails after -o was opened leaves the old report.
	reportPath := filepath.Join(h.dir, "report.json")
	os.WriteFile(reportPath, []byte("the previous report\n"), 0o600)
	tokenless := h.configAt(h.url, "  token_env: NO_SUCH_VARIABLE\n", oldLibsPolicy)
	if code, _, _ := h.run("plan", "-config", tokenless, "-o", reportPath); code != exitUsage {
		t.Errorf("plan without a token: exit %d, want 2", code)
	}
	if got := mustRead(t, reportPath); got != "the previous report\n" {
		t.Errorf("a failed plan truncated the report: %q", got)
	}
	if matches, _ := filepath.Glob(filepath.Join(h.dir, ".report.json.tmp-*")); len(matches) != 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}
}

// Finding 9: a journal removed while apply runs stops the run: no DELETE
// goes out that cannot be journaled.
func TestSafety_JournalRemovedDuringApplyStopsTheRun(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seedLibs(5)
	db := filepath.Join(h.dir, "journal.db")
	var deletes atomic.Int32
	api := h.front(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete && deletes.Add(1) == 2 {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(db + suffix)
			}
		}
		return false
	})
	cfg := h.configAt(api, "", oldLibsPolicy)
	code, _, errOut := h.run("apply", "-config", cfg, "-format", "json")
	if code != exitFailed || !strings.Contains(errOut, "journal") {
		t.Errorf("apply exit %d, want 1 saying the journal is gone:\n%s", code, errOut)
	}
	if n := deletes.Load(); n != 2 {
		t.Errorf("%d DELETEs sent, want 2: none after the journal was removed", n)
	}
}

// Finding 10: a server that sends next links forever is stopped, and the
// package is kept (fails closed) with a clear error.
func TestSafety_EndlessPaginationFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name string
		page func(n int) string
		max  int32
	}{
		{"empty pages", func(int) string { return "[]" }, 1},
		{"fresh pages", func(n int) string {
			return fmt.Sprintf(`[{"id": %d, "name": "9.9.%d", "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z", "metadata": {"package_type": "npm"}}]`, 7000000+n, n)
		}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, simulator.Options{})
			h.seedLibs(2)
			var pages atomic.Int32
			var api string
			api = h.front(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/versions") {
					return false
				}
				n := int(pages.Add(1))
				w.Header().Set("Link", fmt.Sprintf(`<%s%s?per_page=100&page=%d>; rel="next"`, api, r.URL.Path, n+1))
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, tc.page(n))
				return true
			})
			cfg := h.configAt(api, "", oldLibsPolicy)
			code, r, errOut := h.runJSON("apply", "-config", cfg)
			if code != exitFailed {
				t.Errorf("exit %d, want 1", code)
			}
			if n := pages.Load(); n > tc.max {
				t.Errorf("%d pages requested, want at most %d", n, tc.max)
			}
			if e := r.Policies[0].Packages[0].Error; !strings.Contains(e, "pagination") {
				t.Errorf("package error %q does not explain the pagination\n%s", e, errOut)
			}
			if n := h.sim.Stats().ByOp["DELETE version"]; n != 0 {
				t.Errorf("%d DELETEs sent for a package that could not be listed", n)
			}
		})
	}
}

// Finding 11: a token pasted into another field, or echoed back by a
// server, is printed nowhere.
func TestSafety_TokensAreRedactedWherever(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seedLibs(2)
	const other = "ghp_SomeoneElsesToken000000000000000000"
	bad := filepath.Join(h.dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\ngithub:\n  api_url: \""+testToken+"\"\npolicies:\n"+oldLibsPolicy), 0o600)
	if code, _, _ := h.run("validate", "-config", bad); code != exitUsage {
		t.Errorf("validate exit %d, want 2", code)
	}
	api := h.front(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/versions") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprintf(w, `{"message": "you sent %s, try %s"}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), other)
			return true
		}
		return false
	})
	cfg := h.configAt(api, "", oldLibsPolicy)
	code, out, errOut := h.run("plan", "-config", cfg, "-format", "json", "-log-level", "debug")
	if code != exitFailed {
		t.Errorf("plan exit %d, want 1", code)
	}
	if strings.Contains(out+errOut, "SomeoneElses") {
		t.Errorf("a token echoed by the server is printed:\n%s%s", out, errOut)
	}
	if !strings.Contains(out, "[REDACTED]") {
		t.Errorf("the report does not show the redaction:\n%s", out)
	}
	h.assertNoToken()
}

// Finding 14: a listing that shifts while it is paged is listed again; one
// that keeps shifting keeps the package whole.
func TestSafety_ListingChangedWhilePaged(t *testing.T) {
	for _, tc := range []struct {
		name       string
		everyTime  bool
		wantDelete int
		wantRule   string
	}{
		{"shifted once: listed again, then planned", false, 149, "delete:old"},
		{"keeps shifting: kept whole", true, 0, "listing-changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, simulator.Options{})
			ids := h.seedLibs(150)
			var shifts atomic.Int32
			next := 149 // remove the newest old versions, one per shift: page 1 was read already
			api := h.front(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/versions") && r.URL.Query().Get("page") == "2" &&
					(tc.everyTime || shifts.Load() == 0) {
					shifts.Add(1)
					h.sim.Remove(ids[fmt.Sprintf("1.0.%d", next)])
					next--
				}
				return false
			})
			cfg := h.configAt(api, "", "  - name: libs\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")
			code, r, errOut := h.runJSON("plan", "-config", cfg)
			if code != 0 {
				t.Fatalf("plan exit %d\n%s", code, errOut)
			}
			if r.Summary.Delete != tc.wantDelete {
				t.Errorf("%d to delete, want %d", r.Summary.Delete, tc.wantDelete)
			}
			pkg := r.Policies[0].Packages[0]
			if pkg.Decisions[len(pkg.Decisions)-1].Rule != tc.wantRule {
				t.Errorf("oldest version decided by %q, want %q", pkg.Decisions[len(pkg.Decisions)-1].Rule, tc.wantRule)
			}
			if tc.everyTime && !strings.Contains(strings.Join(r.Policies[0].Warnings, "\n"), "kept whole") {
				t.Errorf("no warning: %v", r.Policies[0].Warnings)
			}
		})
	}
}

// Finding 14: a container version that gained a tag between the plan and
// its delete is not deleted.
func TestSafety_VersionThatGainedATagIsNotDeleted(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seed("acme", "app", "private", h.img("old-1", 50*day), h.img("old-2", 40*day), h.img("old-3", 35*day), h.img("current", day, "latest"))
	ids := map[string]int64{}
	for _, v := range h.sim.Versions("acme", "container", "app") {
		ids[h.name(v.Name)] = v.ID
	}
	var deletes atomic.Int32
	api := h.front(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete && deletes.Add(1) == 1 {
			h.sim.Tag(ids["old-2"], "prod") // promoted while the run goes on
		}
		return false
	})
	cfg := h.configAt(api, "", "  - name: images\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: container}\n    delete: [{name: untagged, untagged: true, older_than: 30d}]\n")
	code, r, errOut := h.runJSON("apply", "-config", cfg)
	if code != 0 {
		t.Fatalf("apply exit %d\n%s", code, errOut)
	}
	got := h.decisions(r)
	if got["app/old-2"] != "delete delete:untagged skipped" || got["app/old-1"] != "delete delete:untagged deleted" || got["app/old-3"] != "delete delete:untagged deleted" {
		t.Errorf("decisions %v: old-2 gained a tag and must be skipped", got)
	}
	if v := h.version(ids["old-2"]); v.DeletedAt != nil {
		t.Fatal("the promoted version was deleted")
	}
}

// A DELETE whose first attempt deleted the version but answered 502, whose
// resend got 404, and whose read-back fails: the outcome cannot be told, so
// the intent stays open (never "failed"), and the next restore settles and
// restores it.
func TestSafety_ResentDeleteThatCannotBeCheckedStaysOpen(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	ids := h.seedLibs(1)
	target := fmt.Sprint(ids["1.0.0"])
	var deletes atomic.Int32
	var readBackFails atomic.Bool
	readBackFails.Store(true)
	api := h.front(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/versions/"+target) {
			return false
		}
		if r.Method == http.MethodDelete && deletes.Add(1) == 1 {
			h.sim.ServeHTTP(httptest.NewRecorder(), r) // deleted; the answer is lost
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		if r.Method == http.MethodGet && readBackFails.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	cfg := h.configAt(api, "", oldLibsPolicy)
	h.run("apply", "-config", cfg, "-format", "json")
	_, hist, _ := h.run("history", "-config", cfg, "-run", "1", "-format", "json")
	if !strings.Contains(hist, `"state": "intent"`) {
		t.Fatalf("the unverifiable deletion is not an open intent:\n%s", hist)
	}
	readBackFails.Store(false)
	if code, out, errOut := h.run("restore", "-config", cfg, "-run", "1", "-format", "json"); code != 0 {
		t.Fatalf("restore exit %d:\n%s%s", code, out, errOut)
	}
	if v := h.version(ids["1.0.0"]); v.DeletedAt != nil {
		t.Error("the version this run deleted was not restored")
	}
}

// A run left "running" by a process whose liveness cannot be told (an
// older ghprune, a platform without byte locks) is settled by the next
// enforcing run: only one enforcer can exist, so it is not alive.
func TestSafety_RunOfUnknownLivenessIsSettledByTheNextEnforcer(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	ids := h.seedLibs(2)
	cfg := h.config(oldLibsPolicy)
	db := filepath.Join(h.dir, "journal.db")
	j, err := journal.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	run, _ := j.StartRun(context.Background(), journal.Run{Kind: "apply", Policies: []string{"libs"}, Mode: "enforce", Trigger: "cli", Actor: "old", StartedAt: t0})
	if _, err := j.Intend(context.Background(), journal.Deletion{RunID: run, Policy: "libs", OwnerType: "org", Owner: "acme", PackageType: "npm",
		Package: "lib", VersionID: ids["1.0.0"], Version: "1.0.0", Rule: "delete:old", Reason: "r", RequestedAt: t0}); err != nil {
		t.Fatal(err)
	}
	h.sim.Remove(ids["1.0.0"]) // the crashed process's DELETE took effect
	j.Close()
	os.Remove(db + ".lock") // its liveness cannot be told any more
	if code, _, errOut := h.run("apply", "-config", cfg, "-format", "json"); code != 0 {
		t.Fatalf("apply exit %d\n%s", code, errOut)
	}
	_, runs, _ := h.run("history", "-config", cfg, "-format", "json")
	if !strings.Contains(runs, `"status": "interrupted"`) {
		t.Errorf("the old run is not interrupted:\n%s", runs)
	}
	_, hist, _ := h.run("history", "-config", cfg, "-run", fmt.Sprint(run), "-format", "json")
	if !strings.Contains(hist, `"state": "deleted"`) || !strings.Contains(hist, "reconciled") {
		t.Errorf("its intent was not settled:\n%s", hist)
	}
}

// -o through a symlinked state.path: the real journal's companions (its
// lock above all) are refused too; a device is written, not replaced; an
// apply refused by the lock leaves the last report alone.
func TestSafety_ReportFileEdgeCases(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seedLibs(2)
	real := filepath.Join(h.dir, "real")
	os.Mkdir(real, 0o755)
	link := filepath.Join(h.dir, "link")
	os.Symlink(real, link)
	cfg := h.configAt(h.url, "", oldLibsPolicy)
	body := strings.Replace(mustRead(t, cfg), filepath.Join(h.dir, "journal.db"), filepath.Join(link, "journal.db"), 1)
	os.WriteFile(cfg, []byte(body), 0o600)
	if code, _, errOut := h.run("apply", "-config", cfg, "-format", "json"); code != 0 {
		t.Fatalf("apply: %d\n%s", code, errOut)
	}
	for _, target := range []string{"journal.db", "journal.db-wal", "journal.db-shm", "journal.db.lock"} {
		if code, _, errOut := h.run("plan", "-config", cfg, "-o", filepath.Join(real, target)); code != exitUsage {
			t.Errorf("plan -o real/%s through a symlinked state.path: exit %d, want 2\n%s", target, code, errOut)
		}
	}
	tokenFile := filepath.Join(h.dir, "token")
	os.WriteFile(tokenFile, []byte(testToken), 0o600)
	withFile := filepath.Join(h.dir, "with-token-file.yaml")
	os.WriteFile(withFile, []byte(strings.Replace(body, "github:\n", "github:\n  token_file: "+tokenFile+"\n", 1)), 0o600)
	if code, _, _ := h.run("plan", "-config", withFile, "-o", tokenFile); code != exitUsage || mustRead(t, tokenFile) != testToken {
		t.Errorf("plan -o the token file: exit %d", code)
	}
	if code, _, errOut := h.run("plan", "-config", cfg, "-o", os.DevNull); code != 0 {
		t.Errorf("plan -o %s: exit %d\n%s", os.DevNull, code, errOut)
	}
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode().IsRegular() {
		t.Fatalf("%s was replaced by a regular file", os.DevNull)
	}

	j, err := journal.Open(context.Background(), filepath.Join(link, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	lock, err := j.LockEnforce(journal.HolderFor("ghprune serve", t0))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	reportPath := filepath.Join(h.dir, "last.json")
	os.WriteFile(reportPath, []byte("the last report\n"), 0o644)
	if code, _, _ := h.run("apply", "-config", cfg, "-o", reportPath); code != exitFailed {
		t.Errorf("apply beside a holder: exit %d, want 1", code)
	}
	if got := mustRead(t, reportPath); got != "the last report\n" {
		t.Errorf("a refused apply replaced the report with %q", got)
	}
}

// A lock file removed under an enforcing run stops it at the next delete:
// the next process would lock a new file and run beside it.
func TestSafety_LockFileRemovedStopsTheRun(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seedLibs(5)
	var deletes atomic.Int32
	api := h.front(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete && deletes.Add(1) == 2 {
			os.Remove(filepath.Join(h.dir, "journal.db.lock"))
		}
		return false
	})
	cfg := h.configAt(api, "", oldLibsPolicy)
	code, _, errOut := h.run("apply", "-config", cfg, "-format", "json")
	if code != exitFailed || !strings.Contains(errOut, "lock file was removed or replaced") {
		t.Errorf("apply exit %d, want 1 naming the lock file:\n%s", code, errOut)
	}
	if n := deletes.Load(); n != 2 {
		t.Errorf("%d DELETEs sent, want 2: none after the lock file went", n)
	}
}

// A parent pushed while a run deletes (a new tagged index that refers to an
// old untagged manifest) stops the package's remaining deletions: only a
// new plan reads the new graph.
func TestSafety_ParentPushedDuringTheRunKeepsItsChild(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	child1, child2 := h.img("child-1", 50*day), h.img("child-2", 40*day)
	h.seed("acme", "app", "private", child1, child2, h.img("current", day, "latest"))
	var deletes atomic.Int32
	api := h.front(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete && deletes.Add(1) == 1 {
			idx := simulator.Index(simulator.MediaOCIIndex, simulator.Describe(simulator.MediaOCIManifest, child2.Manifest))
			if _, err := h.sim.AddVersion("acme", "container", "app", simulator.VersionSeed{Manifest: idx, Tags: []string{"v2"}, CreatedAt: t0}); err != nil {
				t.Error(err)
			}
		}
		return false
	})
	cfg := h.configAt(api, "", "  - name: images\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: container}\n    delete: [{name: untagged, untagged: true, older_than: 30d}]\n")
	code, r, errOut := h.runJSON("apply", "-config", cfg)
	if code != 0 {
		t.Fatalf("apply exit %d\n%s", code, errOut)
	}
	got := h.decisions(r)
	if got["app/child-1"] != "delete delete:untagged deleted" || got["app/child-2"] != "delete delete:untagged skipped" {
		t.Fatalf("decisions %v: child-2, referred to by the index pushed meanwhile, must be skipped", got)
	}
	for _, v := range h.sim.Versions("acme", "container", "app") {
		if h.name(v.Name) == "child-2" && v.DeletedAt != nil {
			t.Fatal("the child of the new index was deleted: v2 would not pull")
		}
	}
}

// Reconciling the intents of a crashed run lists each package's deleted
// versions once; when that listing fails, the package's other intents are
// left unknown without asking again.
func TestSafety_ReconcileAsksAnUnlistablePackageOnce(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	ids := h.seedLibs(3)
	cfg := h.config(oldLibsPolicy)
	db := filepath.Join(h.dir, "journal.db")
	j, err := journal.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	run, _ := j.StartRun(context.Background(), journal.Run{Kind: "apply", Policies: []string{"libs"}, Mode: "enforce", Trigger: "cli", Actor: "old", StartedAt: t0})
	for _, v := range []string{"1.0.0", "1.0.1"} {
		if _, err := j.Intend(context.Background(), journal.Deletion{RunID: run, Policy: "libs", OwnerType: "org", Owner: "acme", PackageType: "npm",
			Package: "lib", VersionID: ids[v], Version: v, Rule: "delete:old", Reason: "r", RequestedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	if err := os.Remove(db + ".lock"); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	// The next enforcing run settles the crashed run's intents first; the
	// package's listing fails on every attempt of that first call.
	h.sim.InjectFault(simulator.Fault{Method: "GET", PathContains: "/lib/versions", Status: 500, Times: 8})
	_, _, errOut := h.run("apply", "-config", cfg, "-format", "json")
	if n := strings.Count(errOut, "reconcile: deleted versions not listed"); n != 1 {
		t.Errorf("the package was asked for %d times while reconciling, want once:\n%s", n, errOut)
	}
}
