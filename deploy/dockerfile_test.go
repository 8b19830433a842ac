package deploy

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, USER, …
	args string
}

func parseDockerfile(src string) []instruction {
	var out []instruction
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		start, text := i+1, strings.TrimSpace(lines[i])
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		for strings.HasSuffix(text, `\`) && i+1 < len(lines) {
			i++
			next := strings.TrimSpace(lines[i])
			if strings.HasPrefix(next, "#") {
				continue
			}
			text = strings.TrimSuffix(text, `\`) + " " + next
		}
		cmd, args, _ := strings.Cut(text, " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	return out
}

var digestPinned = regexp.MustCompile(`^[^\s@]+:[^\s@]+@sha256:[0-9a-f]{64}$`)

// checkDockerfile returns what is wrong with the image's base pins and user.
func checkDockerfile(src string) []string {
	var problems []string
	ins := parseDockerfile(src)
	stages := map[string]bool{}
	froms, lastFrom := 0, -1
	for i, in := range ins {
		if in.cmd != "FROM" {
			continue
		}
		froms++
		lastFrom = i
		fields := strings.Fields(in.args)
		for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
			fields = fields[1:] // --platform=…
		}
		if len(fields) == 0 {
			problems = append(problems, fmt.Sprintf("line %d: FROM without an image", in.line))
			continue
		}
		image := fields[0]
		// An earlier stage was pinned where it was defined.
		if !stages[strings.ToLower(image)] && !digestPinned.MatchString(image) {
			problems = append(problems, fmt.Sprintf("line %d: FROM %s is not pinned as tag@sha256:<digest>", in.line, image))
		}
		if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
			stages[strings.ToLower(fields[2])] = true
		}
	}
	if froms < 2 {
		problems = append(problems, fmt.Sprintf("%d FROM lines, want a build stage and a runtime stage", froms))
	}
	user := ""
	for _, in := range ins[lastFrom+1:] {
		if in.cmd == "USER" {
			user = in.args
		}
	}
	if user != "65532:65532" {
		problems = append(problems, fmt.Sprintf("the final stage's USER is %q, want 65532:65532 (numeric: the kubelet cannot check runAsNonRoot against a name)", user))
	}
	return problems
}

func TestDockerfile_PinsBasesAndRunsAsNumericNonRoot(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkDockerfile(string(src)) {
		t.Error(p)
	}
	for _, want := range []string{
		`org.opencontainers.image.source="https://github.com/ghprune/ghprune"`,
		`org.opencontainers.image.version="${VERSION}"`,
		`org.opencontainers.image.revision="${COMMIT}"`,
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("Dockerfile lacks the label %s", want)
		}
	}
}

// The checker itself catches what it is there for.
func TestDockerfile_CheckerRefusesNamesAndTags(t *testing.T) {
	t.Parallel()
	const d = "sha256:f1f0bcc2c524a3ced375fcb4d1ecb7aa371aa7070e112599aaca45cc02d0101b"
	good := "FROM golang:1.26@" + d + " AS build\nRUN go build \\\n  ./...\nFROM gcr.io/distroless/static-debian12:nonroot@" + d + "\nUSER 65532:65532\n"
	if p := checkDockerfile(good); len(p) != 0 {
		t.Fatalf("a good Dockerfile: %v", p)
	}
	for name, src := range map[string]string{
		"user by name":          strings.Replace(good, "USER 65532:65532", "USER nonroot:nonroot", 1),
		"user only uid":         strings.Replace(good, "USER 65532:65532", "USER 65532", 1),
		"user only in build":    strings.Replace(strings.Replace(good, "USER 65532:65532\n", "", 1), "AS build\n", "AS build\nUSER 65532:65532\n", 1),
		"tag only":              strings.Replace(good, "golang:1.26@"+d, "golang:1.26", 1),
		"digest without tag":    strings.Replace(good, "static-debian12:nonroot@", "static-debian12@", 1),
		"short digest":          strings.Replace(good, "nonroot@"+d, "nonroot@"+d[:20], 1),
		"one stage":             "FROM gcr.io/distroless/static-debian12:nonroot@" + d + "\nUSER 65532:65532\n",
		"platform flag, no pin": strings.Replace(good, "FROM golang:1.26@"+d, "FROM --platform=$BUILDPLATFORM golang:1.26", 1),
	} {
		if p := checkDockerfile(src); len(p) == 0 {
			t.Errorf("%s: no problem found in\n%s", name, src)
		}
	}
	staged := good + "FROM build AS again\nUSER 65532:65532\n"
	if p := checkDockerfile(staged); len(p) != 0 {
		t.Errorf("FROM an earlier stage needs no digest: %v", p)
	}
}

// The Action's image (action.Dockerfile) builds the same binary on the same
// pinned bases as Dockerfile, and runs as root: GitHub runs Docker actions
// as the image's user, and the step's files belong to the runner.
func TestActionDockerfile_SameBuildRunsAsRoot(t *testing.T) {
	t.Parallel()
	main, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	action, err := os.ReadFile("../action.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	pick := func(ins []instruction, cmds ...string) []string {
		var out []string
		for _, in := range ins {
			for _, c := range cmds {
				if in.cmd == c {
					out = append(out, in.cmd+" "+in.args)
				}
			}
		}
		return out
	}
	m, a := parseDockerfile(string(main)), parseDockerfile(string(action))
	for _, cmds := range [][]string{{"FROM"}, {"RUN", "COPY", "ARG"}, {"ENTRYPOINT"}} {
		if got, want := strings.Join(pick(a, cmds...), "\n"), strings.Join(pick(m, cmds...), "\n"); got != want {
			t.Errorf("action.Dockerfile's %v differ from Dockerfile's:\n%s\nwant\n%s", cmds, got, want)
		}
	}
	if users := pick(a, "USER"); len(users) != 1 || users[0] != "USER 0:0" {
		t.Errorf("action.Dockerfile's USER lines %q, want one USER 0:0", users)
	}
}
