package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written like Go's ("36h", "90m") plus days and
// weeks ("7d", "2w", "1w3d12h"). A day is 24 hours: retention ages are counted
// in elapsed time, not calendar days.
type Duration time.Duration

// ParseDuration parses s as a Duration.
func ParseDuration(s string) (Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	rest := s
	var total time.Duration
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] == '.' || rest[i] >= '0' && rest[i] <= '9') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid duration %s: expected a number at %s", quoteShort(RedactTokens(s)), quoteShort(RedactTokens(rest)))
		}
		num := rest[:i]
		rest = rest[i:]
		j := 0
		for j < len(rest) && !(rest[j] == '.' || rest[j] >= '0' && rest[j] <= '9') {
			j++
		}
		unit := rest[:j]
		rest = rest[j:]
		var scale time.Duration
		switch unit {
		case "ns":
			scale = time.Nanosecond
		case "us", "µs":
			scale = time.Microsecond
		case "ms":
			scale = time.Millisecond
		case "s":
			scale = time.Second
		case "m":
			scale = time.Minute
		case "h":
			scale = time.Hour
		case "d":
			scale = 24 * time.Hour
		case "w":
			scale = 7 * 24 * time.Hour
		case "":
			return 0, fmt.Errorf("missing unit in %s (use s, m, h, d or w)", quoteShort(RedactTokens(s)))
		default:
			return 0, fmt.Errorf("unknown unit %s in %s (use s, m, h, d or w)", quoteShort(RedactTokens(unit)), quoteShort(RedactTokens(s)))
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid number %s in %s", quoteShort(num), quoteShort(RedactTokens(s)))
		}
		add := f * float64(scale)
		if add > float64(100*365*24*time.Hour) || float64(total)+add > float64(100*365*24*time.Hour) {
			return 0, fmt.Errorf("duration %s is too long", quoteShort(RedactTokens(s)))
		}
		total += time.Duration(add)
	}
	return Duration(total), nil
}

func (d *Duration) unmarshalNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration such as 7d or 36h, got %s", describe(n))
	}
	v, err := ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// String formats d compactly, using days where it divides evenly.
func (d Duration) String() string {
	var buf [32]byte
	return string(d.appendTo(buf[:0]))
}

// appendTo appends d.String() to b, for reasons written a million times.
func (d Duration) appendTo(b []byte) []byte {
	t := time.Duration(d)
	if t > 0 && t%(24*time.Hour) == 0 {
		return append(strconv.AppendInt(b, int64(t/(24*time.Hour)), 10), 'd')
	}
	return append(b, t.String()...)
}
