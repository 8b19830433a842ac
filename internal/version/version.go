// Package version says which build of ghprune is running: the release
// version and commit stamped in at link time, and the Go toolchain. The
// version command and the ghprune_build_info metric both read it, so they
// never disagree.
//
// A release build stamps both variables:
//
//	go build -ldflags "-X github.com/ghprune/ghprune/internal/version.version=v1.2.3 \
//	  -X github.com/ghprune/ghprune/internal/version.commit=abc1234" ./cmd/ghprune
//
// An unstamped build falls back to what the Go toolchain recorded
// (runtime/debug.ReadBuildInfo): the module version for `go install
// module@version`, the VCS revision for a build from a checkout.
package version

import (
	"runtime"
	"runtime/debug"
)

// Set with -ldflags "-X"; empty when the build was not stamped. They are
// variables, not constants, because -X can only set string variables.
var (
	version string
	commit  string
)

// Unknown values: Devel is the version of a build that is neither stamped
// nor installed at a module version; UnknownCommit is the commit of a build
// that is neither stamped nor built from a VCS checkout (-buildvcs=false,
// or a source tree without .git, as in a Docker build context).
const (
	Devel         = "devel"
	UnknownCommit = "unknown"
)

// Version is the release version ("v1.2.3"), or Devel.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	return resolveVersion(version, bi, ok)
}

// Commit is the VCS revision the binary was built from, with "-dirty"
// appended when the toolchain recorded uncommitted changes, or UnknownCommit.
func Commit() string {
	bi, ok := debug.ReadBuildInfo()
	return resolveCommit(commit, bi, ok)
}

// GoVersion is the Go toolchain that built the binary ("go1.26.8").
func GoVersion() string { return runtime.Version() }

// String is the one line `ghprune version` prints:
// "ghprune v1.2.3 (commit abc1234, go1.26.8)".
func String() string {
	return "ghprune " + Version() + " (commit " + Commit() + ", " + GoVersion() + ")"
}

func resolveVersion(stamped string, bi *debug.BuildInfo, ok bool) string {
	if stamped != "" {
		return stamped
	}
	// "(devel)" is what the toolchain records for a build inside the main
	// module's own checkout; it says nothing more than Devel does.
	if ok && bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return Devel
}

func resolveCommit(stamped string, bi *debug.BuildInfo, ok bool) string {
	if stamped != "" {
		return stamped
	}
	if !ok || bi == nil {
		return UnknownCommit
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return UnknownCommit
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return rev
}
