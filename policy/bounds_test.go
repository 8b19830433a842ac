package policy

import (
	"fmt"
	"strings"
	"testing"
)

// sharedRules is a config whose policies share one keep list through an
// alias: n policies, each keeping rules rules of tags tags. The last
// policy has a bad owner_type, which only validation reports.
func sharedRules(n, rules, tags int) string {
	var b strings.Builder
	b.WriteString("policies:\n  - name: p0\n    select: {owner: acme, owner_type: org, package_type: container}\n")
	b.WriteString("    protect: {tags: &t [")
	for i := 0; i < tags; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "t%d", i)
	}
	b.WriteString("]}\n    keep: &k\n")
	for i := 0; i < rules; i++ {
		fmt.Fprintf(&b, "      - {name: k%d, tags: *t}\n", i)
	}
	for i := 1; i < n; i++ {
		ownerType := "org"
		if i == n-1 {
			ownerType = "bogus"
		}
		fmt.Fprintf(&b, "  - {name: p%d, select: {owner: acme, owner_type: %s, package_type: container}, keep: *k}\n", i, ownerType)
	}
	return b.String()
}

// 30 policies × 30 rules × 100 tags: 90,000 patterns from a 3 KB file.
// Before the budget it decoded them all (and the YAML could nest deeper
// for billions); now decoding stops at the alias where the budget runs
// out, with one located error, and validation, which walks the expanded
// config, does not run (the bad owner_type of the last policy is not
// reported).
func TestParse_AliasBombRefusedWithLocation(t *testing.T) {
	src := sharedRules(30, 30, 100)
	_, err := Parse("ghprune.yaml", []byte(src))
	want := "ghprune.yaml:39:87: policies[4].keep: YAML aliases expand to more than 14060 values (the file has 1015); write the values out or use fewer aliases"
	if err == nil || err.Error() != want {
		t.Fatalf("Parse(%d bytes) = %v\nwant %s", len(src), err, want)
	}
	if _, ok := err.(*Errors); !ok {
		t.Errorf("error is %T, want *Errors", err)
	}
}

// Sharing rule lists is what anchors are for: 100 policies sharing a
// 5-rule list load, well within the budget.
func TestParse_SharedRuleListsFitTheAliasBudget(t *testing.T) {
	src := strings.Replace(sharedRules(100, 5, 3), "owner_type: bogus", "owner_type: org", 1)
	cfg, d, err := parse("ghprune.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Policies) != 100 || len(cfg.Policies[99].Keep) != 5 || len(cfg.Policies[99].Keep[4].Tags) != 3 {
		t.Fatalf("decoded %d policies", len(cfg.Policies))
	}
	if d.visits > d.budget {
		t.Errorf("%d visits, budget %d", d.visits, d.budget)
	}
}

// The reported alias is the outermost one being expanded, where the file
// uses it (keep: *k1), not the *t0 inside the anchored rules it expands.
func TestParse_AliasBombReportsTheOutermostAlias(t *testing.T) {
	var b strings.Builder
	b.WriteString("policies:\n  - name: p\n    select: {owner: acme, owner_type: org, package_type: container}\n")
	b.WriteString("    protect: {tags: &t0 [a, a, a, a, a, a, a, a, a, a]}\n")
	b.WriteString("    keep: &k1 [")
	for i := 0; i < 10; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "{name: r%d, tags: *t0, versions: *t0, exclude_tags: *t0}", i)
	}
	b.WriteString("]\n")
	for i := 1; i <= 400; i++ {
		fmt.Fprintf(&b, "  - {name: q%d, select: {owner: acme, owner_type: org, package_type: container}, keep: *k1, delete: *k1}\n", i)
	}
	_, err := Parse("ghprune.yaml", []byte(b.String()))
	want := "ghprune.yaml:65:88: policies[60].keep: YAML aliases expand to more than 47504 values (the file has 9376); write the values out or use fewer aliases"
	if err == nil || err.Error() != want {
		t.Fatalf("Parse = %v\nwant %s", err, want)
	}
}

// A key far longer than any known key gets no suggestion: the edit
// distance to each known key would cost len(key) steps per key byte.
func TestSuggest_SkipsKeysLongerThanAnyTypo(t *testing.T) {
	if s := suggest("policie", []string{"policies"}); s != "policies" {
		t.Errorf("suggest(policie) = %q", s)
	}
	if s := suggest(strings.Repeat("x", maxSuggestKey+1), []string{strings.Repeat("x", maxSuggestKey)}); s != "" {
		t.Errorf("suggest(%d bytes) = %q, want none", maxSuggestKey+1, s)
	}
}

// Each distinct {} glob compiles to its own RE2 program, some 2 KB and
// 10 µs: a file of 10,000 of them is refused where their programs pass
// the file's budget, instead of taking a second and 300 MB per 100,000.
func TestParse_PatternProgramsOverTheFileBudgetAreRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("policies:\n  - name: p\n    select: {owner: acme, owner_type: org, package_type: container}\n    delete:\n      - name: d\n        untagged: true\n        tags:\n")
	for i := 0; i < 10_000; i++ {
		fmt.Fprintf(&b, "          - \"{a,b}%d\"\n", i)
	}
	_, d, err := parse("ghprune.yaml", []byte(b.String()))
	want := "ghprune.yaml:4913:13: policies[0].delete[0].tags[4905]: the {}, **/ and re: patterns of this file compile to more than 200000 instructions in all; use fewer distinct ones"
	if err == nil || err.Error() != want {
		t.Fatalf("Parse = %.300v\nwant %s", err, want)
	}
	if d.programs > programBudget+MaxPatternProgram+programOverhead {
		t.Errorf("compiled %d instructions, budget %d", d.programs, programBudget)
	}
}
