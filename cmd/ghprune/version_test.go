package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ghprune/ghprune/internal/version"
	"github.com/ghprune/ghprune/metrics"
)

func runVersion(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }})
	return code, stdout.String(), stderr.String()
}

func TestVersion_PrintsVersionCommitAndGo(t *testing.T) {
	t.Parallel()
	code, out, stderr := runVersion(t, "version")
	if code != exitOK || stderr != "" {
		t.Fatalf("version exit %d, stderr %q", code, stderr)
	}
	// A test binary is not stamped: devel, and the commit the toolchain
	// recorded or unknown.
	want := "ghprune devel (commit " + version.Commit() + ", " + runtime.Version() + ")\n"
	if out != want {
		t.Errorf("version printed %q, want %q", out, want)
	}
}

func TestVersion_FlagsAndArguments(t *testing.T) {
	t.Parallel()
	if code, _, _ := runVersion(t, "version", "-h"); code != exitOK {
		t.Errorf("version -h exit %d, want %d", code, exitOK)
	}
	if code, _, stderr := runVersion(t, "version", "extra"); code != exitUsage || !strings.Contains(stderr, `unexpected argument "extra"`) {
		t.Errorf("version extra: exit %d, stderr %q; want exit %d", code, stderr, exitUsage)
	}
	if code, _, stderr := runVersion(t, "help"); code != exitOK || !strings.Contains(stderr, "  version ") {
		t.Errorf("help exit %d does not list version: %s", code, stderr)
	}
}

// ghprune_build_info carries the same three values the command prints.
func TestVersion_BuildInfoMetricAgrees(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	metrics.New(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"version": version.Version(), "commit": version.Commit(), "goversion": runtime.Version()}
	for _, mf := range mfs {
		if mf.GetName() != "ghprune_build_info" {
			continue
		}
		if len(mf.GetMetric()) != 1 {
			t.Fatalf("ghprune_build_info has %d series, want 1", len(mf.GetMetric()))
		}
		m := mf.GetMetric()[0]
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) != len(want) {
			t.Errorf("labels %v, want exactly %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("label %s = %q, want %q", k, got[k], v)
			}
		}
		if m.GetGauge().GetValue() != 1 {
			t.Errorf("value %v, want 1", m.GetGauge().GetValue())
		}
		return
	}
	t.Fatal("no ghprune_build_info")
}

// dockerfileStamp finds the -X flags the Dockerfile stamps VERSION and
// COMMIT with.
var dockerfileStamp = regexp.MustCompile(`-X ([\w./-]+)=\$\{?(VERSION|COMMIT)\}?`)

// The binary built with the Dockerfile's own -X flags reports what they set:
// a renamed variable or package would otherwise leave every image "devel".
func TestVersion_StampedWithTheDockerfilesLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{"VERSION": "v9.8.7", "COMMIT": "abc1234"}
	var ldflags []string
	for _, m := range dockerfileStamp.FindAllStringSubmatch(string(df), -1) {
		ldflags = append(ldflags, "-X", m[1]+"="+values[m[2]])
		delete(values, m[2])
	}
	if len(values) != 0 {
		t.Fatalf("the Dockerfile stamps no -X …=${%v}:\n%s", values, df)
	}
	bin := filepath.Join(t.TempDir(), "ghprune")
	build := exec.Command(goBin, "build", "-ldflags", strings.Join(ldflags, " "), "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as the Dockerfile builds, and .ci/run's build warms the cache
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", ldflags, err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("ghprune version: %v\n%s", err, out)
	}
	if want := "ghprune v9.8.7 (commit abc1234, " + runtime.Version() + ")\n"; string(out) != want {
		t.Errorf("stamped binary printed %q, want %q", out, want)
	}
}
