package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// started is a ghprune-sim served by run in the test's process.
type started struct {
	url string
	// stop cancels run's context and returns its exit code and everything
	// it printed on stdout after the URL; it may be called more than once.
	stop func() (code int, rest string)
}

func start(t *testing.T, args ...string) started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr strings.Builder
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, args, pw, &stderr)
		pw.Close()
	}()
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("first line: %v (stderr %q)", err, stderr.String())
	}
	var code int
	var rest string
	done := make(chan struct{})
	go func() {
		b, _ := io.ReadAll(br)
		code, rest = <-exited, string(b)
		close(done)
	}()
	stop := func() (int, string) {
		cancel()
		<-done
		return code, rest
	}
	t.Cleanup(func() { stop() })
	return started{url: strings.TrimSuffix(line, "\n"), stop: stop}
}

func get(t *testing.T, url, token string, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp
}

func TestDefaultToken_IsShapedLikeAClassicPAT(t *testing.T) {
	t.Parallel()
	if !regexp.MustCompile(`^ghp_[A-Za-z0-9]{36}$`).MatchString(defaultToken) {
		t.Errorf("defaultToken %q is not ghp_ and 36 alphanumerics", defaultToken)
	}
}

func TestRun_ServesTheSeededOrgAndItsStats(t *testing.T) {
	t.Parallel()
	s := start(t, "-listen", "127.0.0.1:0", "-org", "acme", "-packages", "2", "-versions", "3",
		"-containers", "1", "-primary-limit", "100", "-window", "1m", "-stats")
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(s.url) {
		t.Fatalf("first line %q is not a loopback URL", s.url)
	}

	var pkgs []struct {
		Name string `json:"name"`
	}
	get(t, s.url+"/orgs/acme/packages?package_type=npm", defaultToken, &pkgs)
	if len(pkgs) != 2 || pkgs[0].Name != "pkg-0001" || pkgs[1].Name != "pkg-0002" {
		t.Fatalf("npm packages %+v, want pkg-0001 and pkg-0002", pkgs)
	}
	var vers []struct {
		Name      string    `json:"name"`
		CreatedAt time.Time `json:"created_at"`
	}
	resp := get(t, s.url+"/orgs/acme/packages/npm/pkg-0001/versions", defaultToken, &vers)
	if got := resp.Header.Get("X-Ratelimit-Limit"); got != "100" {
		t.Errorf("X-Ratelimit-Limit %q, want 100", got)
	}
	if len(vers) != 4 || vers[0].Name != "1.0.0" {
		t.Fatalf("versions %+v, want 1.0.0 then three old ones", vers)
	}
	for _, v := range vers[1:] {
		if age := time.Since(v.CreatedAt); age < 31*24*time.Hour {
			t.Errorf("version %s is %v old; want older than 30 days", v.Name, age)
		}
	}
	if age := time.Since(vers[0].CreatedAt); age > 2*time.Hour {
		t.Errorf("new version is %v old", age)
	}
	var imgs []struct {
		Name string `json:"name"`
	}
	get(t, s.url+"/orgs/acme/packages/container/img-0001/versions", defaultToken, &imgs)
	if len(imgs) != 4 {
		t.Errorf("container versions: %d, want 4", len(imgs))
	}
	if resp := get(t, s.url+"/user", "ghp_wrong", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown token: %d, want 401", resp.StatusCode)
	}
	checkStats(t, s)
}

// checkStats checks the stats of the requests TestRun_ServesTheSeededOrgAndItsStats
// made, their reset, and the stats printed on exit.
func checkStats(t *testing.T, s started) {
	t.Helper()
	var st stats
	get(t, s.url+"/_sim/stats", "", &st)
	if st.Requests != 4 || st.ByOp["GET versions"] != 2 || st.ByOp["GET packages"] != 1 || st.Charged != 4 || st.MaxWindowUsed != 3 {
		t.Errorf("stats %+v: want 4 requests, 2 GET versions, 1 GET packages, 4 charged, MaxWindowUsed 3", st)
	}

	resp, err := http.Post(s.url+"/_sim/reset-stats", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("reset-stats: %d, want 204", resp.StatusCode)
	}
	if resp := get(t, s.url+"/_sim/reset-stats", "", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET reset-stats: %d, want 405", resp.StatusCode)
	}
	get(t, s.url+"/_sim/stats", "", &st)
	if st.Requests != 0 || st.Charged != 0 {
		t.Errorf("after reset: %+v", st)
	}

	code, rest := s.stop()
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	// -stats: the counters on exit, as JSON.
	var final stats
	if err := json.Unmarshal([]byte(rest), &final); err != nil {
		t.Fatalf("stats on exit %q: %v", rest, err)
	}
	if final.Requests != 0 {
		t.Errorf("stats on exit: %+v", final)
	}
}

// -latency is taken (the delay itself is the simulator's Fault delay,
// tested there on a fake clock: no timed assertion here).
func TestRun_LatencyIsAccepted(t *testing.T) {
	t.Parallel()
	s := start(t, "-latency", "1ms")
	if resp := get(t, s.url+"/user", defaultToken, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /user: %d", resp.StatusCode)
	}
}

func TestRun_BadFlagsExit2(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-packages", "-1"},
		{"-window", "0s"},
		{"-latency", "-1s"},
		{"-token", ""},
		{"extra"},
		{"-no-such-flag"},
	} {
		var out, errw strings.Builder
		if code := run(context.Background(), args, &out, &errw); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if out.Len() != 0 {
			t.Errorf("%q: printed %q on stdout", args, out.String())
		}
	}
}
