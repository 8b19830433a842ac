package policy

import (
	"strings"
	"testing"
	"time"
)

func TestParseAt(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     now,
		"+30d":                 now.Add(30 * 24 * time.Hour),
		"+2w":                  now.Add(14 * 24 * time.Hour),
		"-12h":                 now.Add(-12 * time.Hour),
		"2027-01-31":           time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC),
		"2027-01-31T12:00:00Z": time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC),
	} {
		got, err := ParseAt(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseAt(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	// 0001-01-01 is Go's zero time, which the engine reads as now.
	for _, bad := range []string{"tomorrow", "+30", "30d", "+", "2027-13-01", "0001-01-01", "0001-01-01T00:00:00Z", "1969-12-31"} {
		if _, err := ParseAt(bad, now); err == nil {
			t.Errorf("ParseAt(%q) accepted", bad)
		}
	}
	tok := "ghp_" + strings.Repeat("x", 36)
	if _, err := ParseAt(tok, now); err == nil || strings.Contains(err.Error(), "ghp_x") {
		t.Errorf("ParseAt(token): %v", err)
	}
}

// A megabyte value in a duration is echoed cut, not whole.
func TestParseDuration_LongValueIsCut(t *testing.T) {
	_, err := ParseDuration(strings.Repeat("9", 1<<20) + "x")
	if err == nil || len(err.Error()) > 400 {
		t.Errorf("error of %d bytes", len(err.Error()))
	}
}
