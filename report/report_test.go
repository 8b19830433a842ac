package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func sample() *Report {
	t := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	until := t.Add(30 * 24 * time.Hour)
	id := int64(7)
	r := &Report{RunID: &id, Mode: "enforce", StartedAt: t, FinishedAt: t.Add(time.Minute), Policies: []*Policy{{
		Policy: "p", Mode: "enforce", Packages: []*Package{{
			Owner: "acme", OwnerType: "org", PackageType: "container", Package: "evil\x1b[31m|name\n", Visibility: "private",
			VersionsTotal: 2, Decisions: []*Decision{
				{VersionID: 1, Version: "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaa", Tags: []string{"pr-1\r\x07"}, CreatedAt: t, UpdatedAt: t,
					Action: "delete", Rule: "delete:prs", Reason: "old", Outcome: OutcomeDeleted, RestorableUntil: &until},
				{VersionID: 2, Version: "sha256:bbbb", Tags: []string{}, CreatedAt: t, UpdatedAt: t, Action: "keep", Rule: "no-rule", Reason: "no rule"},
			}}}}}}
	r.Summarize()
	return r
}

// Names from GitHub cannot drive the terminal or break the table.
func TestWriteTable_EscapesControlCharacters(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sample(), TableOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"\x1b", "\r", "\x07"} {
		if strings.Contains(out, bad) {
			t.Errorf("table contains raw %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, `evil\x1b[31m|name\x0a`) || !strings.Contains(out, `pr-1\x0d\x07`) {
		t.Errorf("escapes missing:\n%s", out)
	}
	if strings.Count(out, "\n") != 5 {
		t.Errorf("want 5 lines (policy, package, one delete, keep counts, summary), got:\n%s", out)
	}
	if !strings.Contains(out, "summary: 2 versions scanned: 1 keep, 1 delete; run 7: 1 deleted, 0 failed, 0 skipped") {
		t.Errorf("summary line wrong:\n%s", out)
	}
}

func TestWriteTable_ColourOnlyWhenAsked(t *testing.T) {
	var plain, col bytes.Buffer
	WriteTable(&plain, sample(), TableOptions{})
	WriteTable(&col, sample(), TableOptions{Color: true})
	if strings.Contains(plain.String(), "\x1b[") || !strings.Contains(col.String(), ansiRed) {
		t.Error("colour must appear only with Color")
	}
}

// The JSON report carries cli.md's field names.
func TestWriteJSON_Fields(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"run_id", "mode", "started_at", "finished_at", "policies", "summary"} {
		if _, ok := m[k]; !ok {
			t.Errorf("top level lacks %q", k)
		}
	}
	pkg := m["policies"].([]any)[0].(map[string]any)["packages"].([]any)[0].(map[string]any)
	for _, k := range []string{"owner", "owner_type", "package_type", "package", "visibility", "versions_total", "decisions"} {
		if _, ok := pkg[k]; !ok {
			t.Errorf("package lacks %q", k)
		}
	}
	if _, ok := pkg["APIOwner"]; ok {
		t.Error("internal field leaked into JSON")
	}
	d := pkg["decisions"].([]any)[0].(map[string]any)
	for _, k := range []string{"version_id", "version", "tags", "created_at", "updated_at", "action", "rule", "reason", "outcome", "restorable_until"} {
		if _, ok := d[k]; !ok {
			t.Errorf("decision lacks %q", k)
		}
	}
	s := m["summary"].(map[string]any)
	for _, k := range []string{"versions_scanned", "keep", "delete", "deleted", "failed", "skipped", "deferred", "api_requests"} {
		if _, ok := s[k]; !ok {
			t.Errorf("summary lacks %q", k)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain/name":    "plain/name",
		"a\tb":          `a\x09b`,
		"rtl\u202eevil": `rtl\u202eevil`,
		"caf\u00e9":     "caf\u00e9",
		"bad\xffutf8":   `bad\ufffdutf8`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}
