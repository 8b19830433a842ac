package policy

import (
	"fmt"
	"strings"
	"time"
)

// ParseAt reads the time a plan or a policy test is made at: an RFC 3339
// time, a date (midnight UTC), or a duration from now with a sign
// ("+30d", "+2w", "-12h"). The empty string is now.
func ParseAt(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return now, nil
	case s[0] == '+' || s[0] == '-':
		d, err := ParseDuration(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("at %q: %w", cutValue(s), err)
		}
		if s[0] == '-' {
			d = -d
		}
		return now.Add(time.Duration(d)), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t, err = time.Parse(time.DateOnly, s)
	}
	switch {
	case err == nil && t.Before(minAt):
		// Go's zero time (0001-01-01) means "now" to the engine: a time
		// that early would silently be planned at the wrong time.
		return time.Time{}, fmt.Errorf("at %q: must be 1970 or later", cutValue(s))
	case err == nil:
		return t, nil
	}
	return time.Time{}, fmt.Errorf("at %q: want an RFC 3339 time (2027-01-31T12:00:00Z), a date (2027-01-31) or a duration from now (+30d, +2w)", cutValue(s))
}

// minAt is the earliest time a plan can be made at.
var minAt = time.Unix(0, 0).UTC()

// CutValue is a value as an error echoes it: tokens redacted, at most 40
// characters. Errors about flags and files other than the config use it.
func CutValue(s string) string { return cutValue(s) }

// cutValue is a value as an error echoes it: tokens redacted, at most 40
// characters.
func cutValue(s string) string {
	s = RedactTokens(s)
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
