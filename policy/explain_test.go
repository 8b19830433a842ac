package policy

import (
	"strings"
	"testing"
)

func TestExplain_MarksTheDecidingStep(t *testing.T) {
	p := mustPolicy(t, "container", "    protect: {tags: [latest], keep_at_least: 2}\n    keep: [{name: main, tags: [\"main-*\"], most_recent: 1}]\n    delete: [{name: orphans, untagged: true, older_than: 7d}, {name: old-main, tags: [\"main-*\"], older_than: 20d}]\n")
	vs := []Version{
		{ID: 1, Name: "a", Tags: []string{"latest"}, CreatedAt: daysAgo(50)},
		{ID: 2, Name: "b", Tags: []string{"main-2"}, CreatedAt: daysAgo(30)},
		{ID: 3, Name: "c", Tags: []string{"main-3"}, CreatedAt: daysAgo(25)},
		{ID: 4, Name: "d", CreatedAt: daysAgo(10)},
		{ID: 5, Name: "e", CreatedAt: daysAgo(1)},
		{ID: 6, Name: "f", CreatedAt: daysAgo(8)},
	}
	cases := []struct {
		id      int64
		decided string
		rule    RuleID
		detail  string
	}{
		{1, "protect.tags", RuleProtectedTag, "[latest]"},
		{3, "keep[main]", "keep:main", "among the 1 most recent"},
		{2, "delete[old-main]", "delete:old-main", "older than 20d"},
		{4, "delete[orphans]", "delete:orphans", "untagged"},
		{5, "no-rule", RuleNoRule, "no keep or delete rule"},
		{6, "floors.keep_at_least", RuleProtectedKeepLeast, "rank 2 of 6"},
	}
	for _, c := range cases {
		steps, d, err := p.Explain(vs, c.id, now, Facts{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Rule != c.rule {
			t.Errorf("version %d: rule %q, want %q", c.id, d.Rule, c.rule)
		}
		var decided []string
		for _, s := range steps {
			if s.Decided {
				decided = append(decided, s.Step)
				if !strings.Contains(s.Detail, c.detail) {
					t.Errorf("version %d: %s detail %q lacks %q", c.id, s.Step, s.Detail, c.detail)
				}
			}
		}
		if len(decided) != 1 || decided[0] != c.decided {
			t.Errorf("version %d: decided by %v, want [%s]", c.id, decided, c.decided)
		}
	}
	steps, _, _ := p.Explain(vs, 2, now, Facts{})
	for _, s := range steps {
		if s.Step == "keep[main]" && (s.Matched || !strings.Contains(s.Detail, "not among the 1 most recent")) {
			t.Errorf("keep[main] for version 2: %+v", s)
		}
	}
	if _, _, err := p.Explain(vs, 99, now, Facts{}); err == nil {
		t.Error("unknown version: no error")
	}
}
