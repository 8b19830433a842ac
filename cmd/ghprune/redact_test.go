package main

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// The writer redacts a registered token of any format (a legacy 40-hex one
// has no prefix) and its basic-auth form, and a token split over writes or
// straddling the cut of an over-long line.
func TestRedactWriter(t *testing.T) {
	const legacy = "0123456789abcdef0123456789abcdef01234567"
	var s secrets
	s.add(legacy)
	var out bytes.Buffer
	w := newRedactWriter(&out, &s)
	w.Write([]byte("token " + legacy[:10]))
	w.Write([]byte(legacy[10:] + " and basic " + base64.StdEncoding.EncodeToString([]byte("ghprune:"+legacy)) + "\n"))
	long := strings.Repeat("x", maxHeld) + " " + testToken + " tail"
	for i := 0; i < len(long); i += 1000 {
		w.Write([]byte(long[i:min(i+1000, len(long))]))
	}
	w.Flush()
	got := out.String()
	for _, leak := range []string{legacy, legacy[10:], "E2Etoken", "SECRET1111", base64.StdEncoding.EncodeToString([]byte("ghprune:" + legacy))} {
		if strings.Contains(got, leak) {
			t.Errorf("output holds %q", leak)
		}
	}
	if !strings.HasSuffix(got, "[REDACTED] tail") || strings.Count(got, "[REDACTED]") != 3 {
		t.Errorf("output ends %q with %d redactions", got[len(got)-40:], strings.Count(got, "[REDACTED]"))
	}
}
