package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/ghprune/ghprune/simulator"
)

// progressWorld is a harness with 20 old versions to delete.
func progressWorld(t *testing.T) (*harness, string) {
	h := newHarness(t, simulator.Options{})
	var vs []simulator.VersionSeed
	for i := 0; i < 21; i++ {
		vs = append(vs, simulator.VersionSeed{Name: fmt.Sprintf("1.0.%d", i), CreatedAt: h.ago(time.Duration(100-i) * day)})
	}
	h.pkg("acme", "npm", "lib", "private", vs...)
	return h, h.config("  - name: libs\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n    protect: {keep_at_least: 1}\n")
}

// runWithStderr runs apply with stderr to f, as a terminal would be when
// f is one, and returns the JSON report from stdout.
func runWithStderr(t *testing.T, h *harness, cfg string, f *os.File, env map[string]string) (int, []byte) {
	t.Helper()
	var stdout bytes.Buffer
	e := ttyEnv(h, &stdout, f, env)
	code := run(context.Background(), []string{"apply", "-config", cfg, "-format", "json"}, e)
	return code, stdout.Bytes()
}

func ttyEnv(h *harness, stdout io.Writer, stderr *os.File, vars map[string]string) env {
	return env{stdout: stdout, stderr: stderr, stderrTTY: isTerminal(stderr), clock: h.clock,
		getenv: func(k string) string {
			if k == "GITHUB_TOKEN" {
				return testToken
			}
			return vars[k]
		}}
}

// On a terminal, apply shows its progress on one redrawn line, with the
// deletes done of planned, the pace and an ETA; with stderr to a file it
// shows none (a log line per package instead); and the JSON on stdout is
// byte for byte the same either way.
func TestProgress_OnATerminalOnly(t *testing.T) {
	ptmx, tty := openPTY(t)
	defer ptmx.Close()
	var term bytes.Buffer
	read := make(chan struct{})
	go func() { io.Copy(&term, ptmx); close(read) }() // until the terminal closes

	h1, cfg1 := progressWorld(t)
	code, onTTY := runWithStderr(t, h1, cfg1, tty, map[string]string{"TERM": "xterm-256color"})
	tty.Close()
	<-read
	if code != 0 {
		t.Fatalf("apply on a terminal: exit %d\n%s", code, term.String())
	}
	shown := term.String()
	for _, want := range []string{"ghprune: libs: 1 packages, 21 versions decided", "of 20 deleted at 60/min; ETA ", "\x1b[K"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the terminal did not show %q:\n%q", want, shown)
		}
	}
	if !strings.Contains(shown, "19 of 20 deleted at 60/min; ETA 1s") {
		t.Errorf("no frame with the ETA counting down to the last delete:\n%q", shown)
	}

	h2, cfg2 := progressWorld(t)
	file, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	code, toFile := runWithStderr(t, h2, cfg2, file, map[string]string{"TERM": "xterm-256color"})
	file.Close()
	logged, _ := os.ReadFile(file.Name())
	if code != 0 || bytes.Contains(logged, []byte("ETA")) || bytes.Contains(logged, []byte("\x1b[")) || bytes.Contains(logged, []byte("\r")) {
		t.Errorf("stderr to a file (exit %d) has a progress line:\n%q", code, logged)
	}
	if !bytes.Contains(logged, []byte(`"msg":"package decided"`)) || !bytes.Contains(logged, []byte(`"package":"lib"`)) {
		t.Errorf("stderr to a file lacks the log line per package:\n%s", logged)
	}
	if !bytes.Equal(onTTY, toFile) {
		t.Errorf("the JSON report differs with stderr on a terminal:\n%s\nand to a file:\n%s", onTTY, toFile)
	}
}

// TERM=dumb gets no progress line, and no escape sequence at all.
func TestProgress_NotOnADumbTerminal(t *testing.T) {
	ptmx, tty := openPTY(t)
	defer ptmx.Close()
	var term bytes.Buffer
	read := make(chan struct{})
	go func() { io.Copy(&term, ptmx); close(read) }()
	h, cfg := progressWorld(t)
	code, _ := runWithStderr(t, h, cfg, tty, map[string]string{"TERM": "dumb"})
	tty.Close()
	<-read
	if code != 0 || strings.Contains(term.String(), "ETA") || strings.Contains(term.String(), "\x1b[") {
		t.Errorf("TERM=dumb (exit %d) shows %q", code, term.String())
	}
}

// openPTY opens a pseudo-terminal, or skips the test where there is none
// (CI sets GHPRUNE_REQUIRE_PTY: there it fails instead).
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		if os.Getenv("GHPRUNE_REQUIRE_PTY") != "" {
			t.Fatalf("no pseudo-terminal: %v", err)
		}
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	return ptmx, tty
}
