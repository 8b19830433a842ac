package policy

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the .err golden files")

// Every testdata/*.yaml with a .err file beside it must fail with exactly
// those errors; one without must load.
func TestLoadFile_Fixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			golden := strings.TrimSuffix(f, ".yaml") + ".err"
			want, gerr := os.ReadFile(golden)
			_, err := LoadFile(f)
			if os.IsNotExist(gerr) {
				if err != nil {
					t.Fatalf("LoadFile: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadFile succeeded; want errors:\n%s", want)
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not *Errors: %v", err, err)
			}
			got := err.Error() + "\n"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
				return
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadFile_ValidDecodesEverything(t *testing.T) {
	cfg, err := LoadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Policy("ghcr-services")
	if p == nil {
		t.Fatal("policy ghcr-services missing")
	}
	if p.Delete[1].OlderThan != Duration(14*24*time.Hour) {
		t.Errorf("older_than 2w = %v", time.Duration(p.Delete[1].OlderThan))
	}
	if p.Protect.NewerThan != Duration(72*time.Hour) || p.Protect.KeepAtLeast != 5 {
		t.Errorf("protect = %+v", p.Protect)
	}
	if *p.Keep[0].MostRecent != 20 || cfg.EffectiveMode(p) != ModeEnforce {
		t.Errorf("keep/mode wrong: %+v %v", p.Keep[0], cfg.EffectiveMode(p))
	}
	if p.CronSchedule() == nil {
		t.Error("schedule not parsed")
	}
	if !p.Select.Packages.Match("platform/a/b") || p.Select.Packages.Match("svc-a/b") {
		t.Error("package globs: ** must cross / and * must not")
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("unexpected warnings: %v", cfg.Warnings)
	}
	if cfg.GitHub.RegistryURL != DefaultRegistryURL || cfg.Limits.BudgetShare != DefaultBudgetShare {
		t.Errorf("defaults not applied: %+v %+v", cfg.GitHub, cfg.Limits)
	}
}

func TestParse_Errors(t *testing.T) {
	base := "version: 1\npolicies:\n  - name: p\n    select: {owner: a, owner_type: org, package_type: container}\n"
	cases := []struct {
		name, yaml, want string
	}{
		{"empty", "", "f.yaml: the file is empty"},
		{"syntax", "version: [1\n", "f.yaml:"},
		{"not a mapping", "- 1\n", "expected a mapping"},
		{"wrong type", base + "    protect: {keep_at_least: many}\n", `policies[0].protect.keep_at_least: expected a whole number, got "many"`},
		{"bad regex", base + "    protect: {tags: [\"re:(\"]}\n", "policies[0].protect.tags[0]: invalid regular expression"},
		{"bad semver", base + "    delete: [{name: a, semver: \">>1\"}]\n", "invalid semver constraint"},
		{"bad glob", base + "    protect: {tags: [\"[\"]}\n", `invalid glob "["`},
		{"no policies", "version: 1\n", "policies: no policies"},
		{"version", "version: 2\n" + base[11:], "unsupported version (this ghprune reads version 1), got 2"},
		{"duplicate key", base + "    mode: plan\n    mode: enforce\n", "policies[0].mode: duplicate key"},
		{"bad mode", base + "    mode: yes-please\n", `mode must be plan or enforce`},
		{"bad age basis", base + "    delete: [{name: a, untagged: true, age_basis: pushed}]\n", "age_basis must be"},
		{"both token sources", "github: {token_env: X, token_file: /t}\n" + base, "set token_env or token_file, not both"},
		{"bad tz", "defaults: {timezone: Mars/Olympus}\n" + base, "unknown time zone"},
		{"every @", base + "    schedule: \"@every 6x\"\n", "invalid schedule"},
		{"tags on npm", "version: 1\npolicies:\n  - name: p\n    select: {owner: a, owner_type: org, package_type: npm}\n    delete: [{name: a, tags: [x]}]\n", "tags apply to container"},
		{"missing rule name", base + "    delete: [{untagged: true}]\n", "name is required"},
		{"merge key", "x: &a {owner: a}\n" + base, `unknown key "x"`},
		{"empty value widens nothing", base + "    delete: [{name: pr, tags: , older_than: 14d}]\n", "policies[0].delete[0].tags: empty value"},
		{"empty list widens nothing", base + "    delete: [{name: pr, tags: [], older_than: 14d}]\n", "policies[0].delete[0].tags: empty pattern list"},
		{"negation is not narrowing", "version: 1\npolicies:\n  - name: p\n    select: {owner: a, owner_type: org, package_type: npm}\n    delete: [{name: stable, prerelease: false}]\n", "needs older_than or a narrowing condition"},
		{"token pasted into token_env", "github: {token_env: ghp_abcdefghijklmnopqrstuvwxyz0123456789}\n" + base, "must name an environment variable"},
		{"bad url", "github: {api_url: 'ftp:/x'}\n" + base, "expected an http(s) URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatalf("no error; want %q", c.want)
			}
			if strings.Contains(err.Error(), "ghp_abcdefghij") {
				t.Errorf("error echoes the token: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestParse_Warnings(t *testing.T) {
	cfg, err := Parse("f.yaml", []byte("version: 1\npolicies:\n  - name: p\n    mode: enforce\n    select: {owner: a, owner_type: org, package_type: container, packages: [\"^svc.*$\"]}\n    delete: [{name: a, untagged: true}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range cfg.Warnings {
		got = append(got, w.Path)
	}
	want := []string{"policies[0].select.packages[0]", "policies[0]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warning paths (-want +got):\n%s", diff)
	}
}

func TestParseDuration(t *testing.T) {
	day := 24 * time.Hour
	for in, want := range map[string]time.Duration{
		"36h": 36 * time.Hour, "7d": 7 * day, "2w": 14 * day, "1w2d3h": 9*day + 3*time.Hour, "90m": 90 * time.Minute, "1.5d": 36 * time.Hour,
	} {
		got, err := ParseDuration(in)
		if err != nil || time.Duration(got) != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, time.Duration(got), err, want)
		}
	}
	for _, in := range []string{"", "30x", "d", "7", "1..2d", "-1d", "99999999w"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", in)
		}
	}
}

func TestPattern(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"svc-*", "svc-api", true},
		{"svc-*", "svc-api/x", false},
		{"platform/**", "platform/a/b", true},
		{"re:v[0-9]+", "v12", true},
		{"re:v[0-9]+", "xv12", false},
		{"re:v[0-9]+", "v12x", false},
		{"semver:>=1.2, <2", "v1.5.0", true},
		{"semver:>=1.2, <2", "2.0.0", false},
		{"semver:>=1.2, <2", "latest", false},
		{"{a,b}-*", "b-1", true},
	}
	for _, c := range cases {
		p, err := CompilePattern(c.pat)
		if err != nil {
			t.Fatalf("CompilePattern(%q): %v", c.pat, err)
		}
		if got := p.Match(c.s); got != c.want {
			t.Errorf("%q.Match(%q) = %v, want %v", c.pat, c.s, got, c.want)
		}
	}
}
