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
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("at %q: want an RFC 3339 time (2027-01-31T12:00:00Z), a date (2027-01-31) or a duration from now (+30d, +2w)", cutValue(s))
}

func cutValue(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
