package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLintPlan_PatternsMatchingNothing(t *testing.T) {
	p := mustPolicy(t, "container", "    protect: {tags: [latest, prdo]}\n    keep: [{name: k, tags: [\"main-*\"]}]\n    delete: [{name: d, tags: [\"pr-*\"], older_than: 7d}]\n")
	got := p.LintPlan(Seen{Packages: []string{"svc"}, Tags: []string{"latest", "pr-1"}, Versions: []string{"sha256:a"}})
	want := []string{
		`protect.tags[1]: "prdo" matches no tag in this plan`,
		`keep[0].tags[0]: "main-*" matches no tag in this plan`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
