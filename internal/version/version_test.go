package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func buildInfo(mainVersion string, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/ghprune/ghprune", Version: mainVersion}}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

func TestVersion_StampedWinsOverBuildInfo(t *testing.T) {
	t.Parallel()
	bi := buildInfo("v0.9.0", "vcs.revision", "ffffffffffff", "vcs.modified", "true")
	if got := resolveVersion("v1.2.3", bi, true); got != "v1.2.3" {
		t.Errorf("version = %q, want the stamped v1.2.3", got)
	}
	if got := resolveCommit("abc1234", bi, true); got != "abc1234" {
		t.Errorf("commit = %q, want the stamped abc1234", got)
	}
}

func TestVersion_FallsBackToBuildInfo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                string
		bi                  *debug.BuildInfo
		ok                  bool
		version, commitWant string
	}{
		{"go install module@version", buildInfo("v1.4.0"), true, "v1.4.0", UnknownCommit},
		{"checkout", buildInfo("(devel)", "vcs.revision", "0123456789abcdef", "vcs.modified", "false"), true, Devel, "0123456789abcdef"},
		{"checkout with changes", buildInfo("(devel)", "vcs.revision", "0123456789abcdef", "vcs.modified", "true"), true, Devel, "0123456789abcdef-dirty"},
		{"-buildvcs=false", buildInfo(""), true, Devel, UnknownCommit},
		{"no build info", nil, false, Devel, UnknownCommit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resolveVersion("", tc.bi, tc.ok); got != tc.version {
				t.Errorf("version = %q, want %q", got, tc.version)
			}
			if got := resolveCommit("", tc.bi, tc.ok); got != tc.commitWant {
				t.Errorf("commit = %q, want %q", got, tc.commitWant)
			}
		})
	}
}

func TestVersion_StringNamesVersionCommitAndGo(t *testing.T) {
	t.Parallel()
	s := String()
	want := "ghprune " + Version() + " (commit " + Commit() + ", " + runtime.Version() + ")"
	if s != want {
		t.Errorf("String() = %q, want %q", s, want)
	}
	if !strings.HasPrefix(GoVersion(), "go") {
		t.Errorf("GoVersion() = %q", GoVersion())
	}
}
