package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// github.token_file alone is the shipped Kubernetes manifest's setting: it
// must load. Only a token_env written in the file conflicts with it.
func TestParse_TokenFileAloneIsAccepted(t *testing.T) {
	base := "version: 1\npolicies:\n  - name: p\n    select: {owner: a, owner_type: org, package_type: container}\n"
	for name, src := range map[string]string{
		"token_file alone":         "github:\n  token_file: /var/run/secrets/ghprune/token\n" + base,
		"token_file beside others": "github:\n  api_url: https://ghe.example.com/api/v3\n  token_file: /t\n  api_version: 2022-11-28\n" + base,
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := Parse("f.yaml", []byte(src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if cfg.GitHub.TokenFile == "" {
				t.Error("token_file not decoded")
			}
		})
	}
}

// lookup must tell a key that is written from one that only has a parent:
// nodeAt, which locates messages, answers the parent for both.
func TestLookup_MissingKeyIsNotWritten(t *testing.T) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte("github:\n  token_file: /t\npolicies:\n  - name: p\n"), &root); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		"github":              true,
		"github.token_file":   true,
		"github.token_env":    false,
		"github.api_url":      false,
		"policies[0].name":    true,
		"policies[0].select":  false,
		"policies[1]":         false,
		"limits.budget_share": false,
	} {
		if got := written(&root, path); got != want {
			t.Errorf("written(%q) = %v, want %v", path, got, want)
		}
		if nodeAt(&root, path) == nil {
			t.Errorf("nodeAt(%q) = nil; a message must still be located", path)
		}
	}
}

func timeVersion(id int64, name string, created time.Time, tags ...string) Version {
	return Version{ID: id, Name: name, Tags: tags, CreatedAt: created, UpdatedAt: created}
}

// A version whose date is missing, null, empty or unparseable has no known
// age: it must never be deleted as "created 106751d ago".
func TestDecide_UndatedVersionsAreKept(t *testing.T) {
	p := mustPolicy(t, "container", "    delete: [{name: orphans, untagged: true, older_than: 7d}]\n")
	vs := []Version{
		timeVersion(1, "valid-old", daysAgo(30)),
		{ID: 2, Name: "null", RawCreatedAt: "null"},
		{ID: 3, Name: "empty", RawCreatedAt: `""`},
		{ID: 4, Name: "missing"},
		{ID: 5, Name: "garbage", RawCreatedAt: `"yesterday"`},
		timeVersion(6, "newest", daysAgo(1), "latest"),
	}
	ds := p.Decide(vs, now, Facts{})
	got := verdicts(ds)
	want := map[string]string{
		"valid-old": "delete delete:orphans",
		"null":      "keep invalid-time",
		"empty":     "keep invalid-time",
		"missing":   "keep invalid-time",
		"garbage":   "keep invalid-time",
		"newest":    "keep no-rule",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("decisions (-want +got):\n%s", diff)
	}
	reasons := map[string]string{}
	for _, d := range ds {
		reasons[d.Version.Name] = d.Reason
	}
	for name, raw := range map[string]string{"null": "created_at is null", "empty": `created_at is ""`, "missing": "created_at is missing", "garbage": `created_at is "yesterday"`} {
		if !strings.Contains(reasons[name], raw) {
			t.Errorf("reason of %s = %q; want the raw value (%s)", name, reasons[name], raw)
		}
	}
}

// A version dated in the future must neither be deleted nor take a
// most_recent or keep_at_least slot from a version whose age is known.
func TestDecide_FutureVersionTakesNoSlot(t *testing.T) {
	vs := []Version{
		timeVersion(1, "v1", daysAgo(40), "v1"),
		timeVersion(2, "v2", daysAgo(30), "v2"),
		timeVersion(3, "v3", daysAgo(20), "v3"),
		timeVersion(4, "future", now.Add(365*24*time.Hour), "v9"),
	}
	t.Run("most_recent", func(t *testing.T) {
		p := mustPolicy(t, "container", "    keep: [{name: recent, tags: [\"v*\"], most_recent: 2}]\n    delete: [{name: old, tags: [\"v*\"], older_than: 1d}]\n")
		want := map[string]string{"v1": "delete delete:old", "v2": "keep keep:recent", "v3": "keep keep:recent", "future": "keep invalid-time"}
		if diff := cmp.Diff(want, verdicts(p.Decide(vs, now, Facts{}))); diff != "" {
			t.Errorf("decisions (-want +got):\n%s", diff)
		}
	})
	t.Run("keep_at_least", func(t *testing.T) {
		p := mustPolicy(t, "container", "    protect: {keep_at_least: 2}\n    delete: [{name: old, tags: [\"v*\"], older_than: 1d}]\n")
		want := map[string]string{"v1": "delete delete:old", "v2": "keep protected:keep_at_least", "v3": "keep protected:keep_at_least", "future": "keep invalid-time"}
		if diff := cmp.Diff(want, verdicts(p.Decide(vs, now, Facts{}))); diff != "" {
			t.Errorf("decisions (-want +got):\n%s", diff)
		}
	})
	t.Run("within the tolerance it is an ordinary new version", func(t *testing.T) {
		p := mustPolicy(t, "container", "    keep: [{name: recent, tags: [\"v*\"], most_recent: 1}]\n    delete: [{name: old, tags: [\"v*\"], older_than: 1d}]\n")
		soon := append(vs[:3:3], timeVersion(4, "pushed-meanwhile", now.Add(FutureTolerance/2), "v4"))
		want := map[string]string{"v1": "delete delete:old", "v2": "delete delete:old", "v3": "delete delete:old", "pushed-meanwhile": "keep keep:recent"}
		if diff := cmp.Diff(want, verdicts(p.Decide(soon, now, Facts{}))); diff != "" {
			t.Errorf("decisions (-want +got):\n%s", diff)
		}
	})
}

// Under age_basis: updated_at a missing updated_at makes the age unknown too.
func TestDecide_UpdatedAtBasisNeedsUpdatedAt(t *testing.T) {
	p := mustPolicy(t, "npm", "    delete: [{name: stale, versions: [\"*\"], older_than: 7d, age_basis: updated_at}]\n")
	vs := []Version{
		{ID: 1, Name: "1.0.0", CreatedAt: daysAgo(30), UpdatedAt: daysAgo(30)},
		{ID: 2, Name: "1.1.0", CreatedAt: daysAgo(20), RawUpdatedAt: "null"},
		{ID: 3, Name: "2.0.0", CreatedAt: daysAgo(1), UpdatedAt: daysAgo(1)},
	}
	want := map[string]string{"1.0.0": "delete delete:stale", "1.1.0": "keep invalid-time", "2.0.0": "keep no-rule"}
	if diff := cmp.Diff(want, verdicts(p.Decide(vs, now, Facts{}))); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
}

// A token pasted into any field is redacted from every message that echoes
// the field's value, not only from token_env's.
func TestParse_TokenInAnyFieldIsRedacted(t *testing.T) {
	const tok = "ghp_PastedToken0123456789abcdefABCDEF0123"
	base := "version: 1\npolicies:\n  - name: p\n    select: {owner: a, owner_type: org, package_type: container}\n"
	for name, src := range map[string]string{
		"api_url":      "github: {api_url: \"" + tok + "\"}\n" + base,
		"registry_url": "github: {registry_url: \"" + tok + "\"}\n" + base,
		"api_version":  "github: {api_version: \"" + tok + "\"}\n" + base,
		"policy name":  "version: 1\npolicies:\n  - name: " + tok + "\n    select: {owner: a, owner_type: org, package_type: container}\n",
		"fine-grained": "github: {api_url: \"github_pat_11ABCDEFG0123456789_abcdefghijklmnop\"}\n" + base,
		"mode":         base + "    mode: \"" + tok + "\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(src))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "PastedToken") || strings.Contains(msg, "github_pat_11") {
				t.Fatalf("error echoes the token: %s", msg)
			}
			if !strings.Contains(msg, Redacted) {
				t.Errorf("error %q does not say the value was redacted", msg)
			}
		})
	}
}

// A URL with a user part is refused without echoing it.
func TestParse_URLWithCredentialsRefused(t *testing.T) {
	base := "version: 1\npolicies:\n  - name: p\n    select: {owner: a, owner_type: org, package_type: container}\n"
	_, err := Parse("f.yaml", []byte("github: {registry_url: \"https://x:s3cret@ghcr.io\"}\n"+base))
	if err == nil || !strings.Contains(err.Error(), "github.registry_url: must not carry credentials") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v; want the credentials refused and not echoed", err)
	}
}

func TestRedactTokens(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer ghp_abcdefghijklmnopqrstuvwxyz0123456789 rest": "Bearer [REDACTED] rest",
		"url=https://x/?t=gho_abcdef123456&y":                  "url=https://x/?t=[REDACTED]&y",
		"ghs_1234567 ghu_abcdefgh ghr_ABCDEFGH":                "[REDACTED] [REDACTED] [REDACTED]",
		"github_pat_11AAAAAAA0_bbbbbbbbbbbbbbbb":               "[REDACTED]",
		"no token here, only ghp_ and github and ghx_abcdefgh": "no token here, only ghp_ and github and ghx_abcdefgh",
	} {
		if got := RedactTokens(in); got != want {
			t.Errorf("RedactTokens(%q) = %q, want %q", in, got, want)
		}
	}
}

// A file of hundreds of thousands of tiny values is refused before the YAML
// parser builds a node for each (some 200 bytes apiece), with the line.
func TestParse_TooManyValuesRefusedBeforeParsing(t *testing.T) {
	src := "version: 1\npolicies:\n" + strings.Repeat("- {}\n", maxValues)
	_, err := Parse("f.yaml", []byte(src))
	want := fmt.Sprintf("f.yaml:%d:1: the file holds more than %d values", maxValues/2+1, maxValues)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %.300v; want it to start %q", err, want)
	}
}

// Errors past maxErrors are counted, not kept: a machine-made file with
// 10,000 broken policies costs 200 messages.
func TestParse_ErrorsAreCapped(t *testing.T) {
	src := "version: 1\npolicies:\n" + strings.Repeat("- {name: BAD}\n", 10000)
	_, err := Parse("f.yaml", []byte(src))
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v", err)
	}
	if len(errs.List) != maxErrors || errs.More == 0 || !strings.HasSuffix(err.Error(), fmt.Sprintf("… and %d more problems", errs.More)) {
		t.Errorf("%d errors kept, %d more; message ends %q", len(errs.List), errs.More, err.Error()[len(err.Error())-60:])
	}
}

// Every YAML line break counts toward the value bound: CR, NEL, LS and PS
// end lines for yaml.v3 as LF does.
func TestCountValues_EveryLineBreak(t *testing.T) {
	for name, br := range map[string]string{"LF": "\n", "CRLF": "\r\n", "CR": "\r", "NEL": "\u0085", "LS": "\u2028", "PS": "\u2029"} {
		src := "version: 1" + br + "policies:" + br + strings.Repeat("- {}"+br, maxValues)
		if _, n := countValues([]byte(src)); n <= maxValues {
			t.Errorf("%s: %d values counted, want more than %d", name, n, maxValues)
		}
	}
}

// A file over MaxFileBytes is refused before it is parsed, and a query in
// a URL, where a token would be, is not echoed.
func TestParse_BigFileAndURLQuery(t *testing.T) {
	_, err := Parse("f.yaml", make([]byte, MaxFileBytes+1))
	if err == nil || !strings.Contains(err.Error(), "a ghprune config is at most") {
		t.Errorf("big file: %v", err)
	}
	base := "version: 1\npolicies:\n  - name: p\n    select: {owner: a, owner_type: org, package_type: npm}\n"
	_, err = Parse("f.yaml", []byte("github: {api_url: \"https://api.github.com/?access_token=0123456789abcdef0123456789abcdef01234567\"}\n"+base))
	if err == nil || strings.Contains(err.Error(), "0123456789abcdef") || !strings.Contains(err.Error(), "must not have a query") {
		t.Errorf("URL with a query: %v", err)
	}
}
