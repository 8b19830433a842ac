package policytest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ghprune/ghprune/policy"
)

// mustConfig parses a config of policies, with a server that is not there:
// nothing in these tests sends a request.
func mustConfig(t *testing.T, policies string) *policy.Config {
	t.Helper()
	cfg, err := policy.Parse("c.yaml", []byte(`version: 1
github: {api_url: "http://127.0.0.1:1", registry_url: "http://127.0.0.1:1"}
policies:
`+policies))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func mustParse(t *testing.T, body string) *File {
	t.Helper()
	f, err := Parse("t.yaml", []byte(body))
	if err != nil {
		t.Fatalf("tests file: %v", err)
	}
	return f
}

const threePolicies = `  - name: svc
    select: {owner: acme, owner_type: org, package_type: container}
    protect: {tags: [prod]}
    keep: [{name: recent, most_recent: 3}]
    delete: [{name: stale, older_than: 30d}, {name: untagged, untagged: true}]
  - name: libs
    select: {owner: acme, owner_type: org, package_type: npm}
    delete: [{name: old, older_than: 30d}]
  - name: mine
    select: {owner: octocat, owner_type: user, package_type: maven}
    delete: [{name: old, older_than: 30d}]
`

// Binding finds every mistake a file can be checked for against the
// config, all at once and located in the tests file.
func TestBind_Errors(t *testing.T) {
	cfg := mustConfig(t, threePolicies)
	f := mustParse(t, `packages:
  - owner: acme
    owner_type: user
    name: img
    package_type: container
    versions:
      - {name: a, tags: [prod], age: 1d, id: 7}
  - {owner: acme, name: lib, package_type: npm, versions: [{name: 1.0.0, age: 1d}]}
tests:
  - {policy: nope, package: img, tag: prod, expect: keep}
  - {package: img, tag: prod, expect: keep}
  - {policy: svc, owner: other, package: img, tag: prod, expect: keep}
  - {policy: svc, package: img, tag: prod, expect: keep, rule: keep-all}
  - {policy: svc, package: lib, version: 1.0.0, expect: keep}
  - {policy: svc, package: img, tag: nope, expect: keep}
  - {policy: svc, package: img, version: b, expect: keep}
  - {policy: svc, package: img, id: 8, expect: keep}
  - {policy: libs, package: lib, version: 2.0.0, expect: keep}
`)
	_, err := Bind(f, cfg)
	var errs *policy.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Bind: %T %v, want *policy.Errors", err, err)
	}
	var lines []string
	for _, fe := range errs.List {
		lines = append(lines, fe.Error())
	}
	want := []string{
		`t.yaml:3:17: packages[0].owner_type: policy svc selects acme as owner_type org, got "user"`,
		`t.yaml:10:14: tests[0].policy: no policy "nope" in c.yaml (svc, libs, mine)`,
		`t.yaml:11:5: tests[1]: missing policy: the config has 3 policies (svc, libs, mine)`,
		`t.yaml:12:26: tests[2].owner: policy svc selects the packages of "acme", got "other"`,
		`t.yaml:13:64: tests[3].rule: policy svc cannot decide by "keep-all" (keep rules: recent; delete rules: stale, untagged; or a label such as protected:tag, no-rule, deferred)`,
		`t.yaml:14:28: tests[4].package: the synthetic package "lib" is declared as a npm package of acme; policy svc selects the container packages of acme`,
		`t.yaml:15:38: tests[5].tag: the synthetic package acme/img has no version with tag "nope"`,
		`t.yaml:16:42: tests[6].version: the synthetic package acme/img has no version with version "b"`,
		`t.yaml:17:37: tests[7].id: the synthetic package acme/img has no version with id 8`,
		`t.yaml:18:43: tests[8].version: the synthetic package acme/lib has no version with version "2.0.0"`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
}

// A synthetic package with no owner_type is listed under the owner type
// of the policies selecting its owner; when they disagree, it must say.
func TestBind_OwnerTypeOfTwoPolicies(t *testing.T) {
	cfg := mustConfig(t, `  - name: org-side
    select: {owner: acme, owner_type: org, package_type: npm}
    delete: [{name: old, older_than: 30d}]
  - name: user-side
    select: {owner: ACME, owner_type: user, package_type: maven}
    delete: [{name: old, older_than: 30d}]
`)
	f := mustParse(t, `packages:
  - {owner: acme, name: lib, package_type: npm, versions: [{name: 1.0.0, age: 1d}]}
tests:
  - {policy: org-side, package: lib, version: 1.0.0, expect: keep}
`)
	_, err := Bind(f, cfg)
	want := "t.yaml:2:5: packages[0]: the config's policies select acme both as org and as user: give owner_type"
	if err == nil || err.Error() != want {
		t.Errorf("Bind: %v\nwant %s", err, want)
	}

	// Given, it settles the question.
	f = mustParse(t, `packages:
  - {owner: acme, owner_type: org, name: lib, package_type: npm, versions: [{name: 1.0.0, age: 1d}]}
tests:
  - {policy: org-side, package: lib, version: 1.0.0, expect: keep}
`)
	s, err := Bind(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.ownerType[f.Packages[0]]; got != "org" {
		t.Errorf("owner type %q", got)
	}
}

// The owner type follows the policies; org when none selects the owner.
func TestBind_OwnerTypeFollowsThePolicies(t *testing.T) {
	cfg := mustConfig(t, threePolicies)
	f := mustParse(t, `packages:
  - {owner: Octocat, name: m, package_type: maven, versions: [{name: '1', age: 1d}]}
  - {owner: nobody, name: n, package_type: npm, versions: [{name: '1', age: 1d}]}
tests:
  - {policy: mine, package: m, version: '1', expect: keep}
`)
	s, err := Bind(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := s.ownerType[f.Packages[0]], s.ownerType[f.Packages[1]]; a != "user" || b != "org" {
		t.Errorf("owner types %q and %q, want user and org", a, b)
	}
}

// What binding accepts: the single policy by default, an owner of another
// case, every fixed rule label, keep: and delete: labels of the policy's
// rules and their bare names, referenced-by and orphaned-by with or
// without a digest; a version found by name, tag or id.
func TestBind_Accepts(t *testing.T) {
	cfg := mustConfig(t, `  - name: svc
    select: {owner: acme, owner_type: org, package_type: container}
    protect: {tags: [prod]}
    keep: [{name: recent, most_recent: 3}]
    delete: [{name: stale, older_than: 30d}]
`)
	var b strings.Builder
	b.WriteString(`packages:
  - owner: acme
    name: img
    package_type: container
    versions:
      - {name: a, tags: [prod], age: 1d, id: 7}
      - {name: b, age: 2d}
tests:
  - {package: img, tag: prod, expect: keep}
  - {package: img, version: b, expect: keep, owner: ACME}
  - {package: img, id: 7, expect: keep, policy: svc}
  - {package: real, version: 'sha256:abc', expect: keep}
`)
	var rules []string
	for _, st := range policy.Steps() {
		for _, r := range st.Rules {
			if r.Kind() == r {
				rules = append(rules, string(r))
			}
		}
	}
	if !slices.Contains(rules, "protected:tag") || !slices.Contains(rules, "no-rule") {
		t.Fatalf("the fixed rules: %q", rules)
	}
	rules = append(rules, "keep:recent", "delete:stale", "recent", "stale", "referenced-by", "orphaned-by",
		"referenced-by:sha256:0123456789ab", "orphaned-by:sha256:"+strings.Repeat("0", 64))
	for _, r := range rules {
		b.WriteString("  - {package: img, tag: prod, expect: keep, rule: '" + r + "'}\n")
	}
	f := mustParse(t, b.String())
	s, err := Bind(f, cfg)
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	if len(s.cases) != len(f.Cases) {
		t.Fatalf("%d cases bound of %d", len(s.cases), len(f.Cases))
	}
	img := f.Packages[0]
	for i, want := range []*Version{img.Versions[0], img.Versions[1], img.Versions[0], nil} {
		if c := s.cases[i]; c.version != want || (want != nil) != (c.synth == img) || c.pol != cfg.Policies[0] {
			t.Errorf("case %d bound to %+v of %+v by %v", i, c.version, c.synth, c.pol)
		}
	}
	pols, cases := s.Unsynthetic()
	if len(pols) != 1 || pols[0] != cfg.Policies[0] || len(cases) != 1 || cases[0] != f.Cases[3] {
		t.Errorf("Unsynthetic: %v, %v", pols, cases)
	}

	// Rules that are neither.
	for _, r := range []string{"keep:stale", "delete:recent", "keep:nope", "nope", "protected:", "sha256:abc"} {
		f := mustParse(t, "tests:\n  - {package: img, tag: prod, expect: keep, rule: '"+r+"'}\n")
		if _, err := Bind(f, cfg); err == nil || !strings.Contains(err.Error(), "cannot decide by") {
			t.Errorf("rule %q: %v", r, err)
		}
	}
}

// A policy name in an error is cut: the config's are bounded, a tests
// file's are not.
func TestBind_LongValuesAreCut(t *testing.T) {
	cfg := mustConfig(t, threePolicies)
	big := strings.Repeat("x", 1<<20)
	for _, body := range []string{
		"tests:\n  - {policy: " + big + ", package: img, tag: prod, expect: keep}\n",
		"tests:\n  - {policy: svc, owner: " + big + ", package: img, tag: prod, expect: keep}\n",
		"tests:\n  - {policy: svc, package: img, tag: prod, expect: keep, rule: " + big + "}\n",
		"packages:\n  - {owner: " + big + ", name: img, package_type: npm, versions: [{name: '1', age: 1d}]}\ntests:\n  - {policy: svc, package: img, tag: prod, expect: keep}\n",
		"packages:\n  - {owner: acme, name: img, package_type: container, versions: [{name: a, age: 1d}]}\ntests:\n  - {policy: svc, package: img, tag: " + big + ", expect: keep}\n",
	} {
		_, err := Bind(mustParse(t, body), cfg)
		if err == nil {
			t.Fatalf("bound %.100s", body)
		}
		if len(err.Error()) > 400 {
			t.Errorf("a message of %d bytes: %.300s", len(err.Error()), err)
		}
	}
}

// RuleMatches: the same label, a bare rule name for keep:NAME and
// delete:NAME, referenced-by and orphaned-by alone for any digest.
func TestRuleMatches(t *testing.T) {
	const digest = "sha256:0123456789abcdef"
	for _, tc := range []struct {
		want, got string
		match     bool
	}{
		{"", "delete:stale", true},
		{"", "", true},
		{"protected:tag", "protected:tag", true},
		{"delete:stale", "delete:stale", true},
		{"keep:recent", "keep:recent", true},
		{"stale", "delete:stale", true},
		{"recent", "keep:recent", true},
		{"no-rule", "no-rule", true},
		{"referenced-by", "referenced-by:" + digest, true},
		{"orphaned-by", "orphaned-by:" + digest, true},
		{"referenced-by:" + digest, "referenced-by:" + digest, true},

		{"protected:tag", "protected:newer_than", false},
		{"delete:stale", "keep:stale", false},
		{"keep:stale", "delete:stale", false},
		{"stale", "delete:stale-pr", false},
		{"stale", "delete:old", false},
		{"stale", "protected:tag", false},
		{"tag", "protected:tag", false},
		{"referenced-by", "orphaned-by:" + digest, false},
		{"orphaned-by", "referenced-by:" + digest, false},
		{"referenced-by:sha256:ffff", "referenced-by:" + digest, false},
		{"referenced-by", "delete:referenced-by", true}, // a delete rule named referenced-by
		{"delete:stale", "", false},
		{"no-rule", "deferred", false},
		// A digest as the table and Markdown reports shorten it (12 hex
		// digits) matches; fewer is too loose.
		{"referenced-by:sha256:0123456789ab", "referenced-by:" + digest, true},
		{"orphaned-by:sha256:0123456789ab", "orphaned-by:" + digest, true},
		{"referenced-by:sha256:0123456789", "referenced-by:" + digest, false},
		{"referenced-by:sha256:0123456789ac", "referenced-by:" + digest, false},
		{"orphaned-by:sha256:0123456789ab", "referenced-by:" + digest, false},
	} {
		if got := RuleMatches(tc.want, policy.RuleID(tc.got)); got != tc.match {
			t.Errorf("RuleMatches(%q, %q) = %v, want %v", tc.want, tc.got, got, tc.match)
		}
	}
}

// A digest in a rule label shorter than reports print it (12 hex digits)
// could never match: Bind refuses it.
func TestBind_ShortDigestInARule(t *testing.T) {
	cfg := mustConfig(t, `  - name: svc
    select: {owner: acme, owner_type: org, package_type: container}
    delete: [{name: stale, older_than: 30d}]
`)
	f := mustParse(t, "tests:\n  - {package: img, tag: prod, expect: keep, rule: 'referenced-by:sha256:ab'}\n")
	if _, err := Bind(f, cfg); err == nil || !strings.Contains(err.Error(), "at least 12 hex digits") {
		t.Errorf("Bind: %v", err)
	}
}
