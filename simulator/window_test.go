package simulator

import (
	"strconv"
	"testing"
	"time"
)

func TestRateLimit_PrimaryWindowShortened(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{PrimaryLimit: 2, PrimaryWindow: time.Minute})
	const path = "/orgs/acme/packages?package_type=container"
	reset := strconv.FormatInt(t0.Add(time.Minute).Unix(), 10)
	for i := 1; i <= 2; i++ {
		r := h.call(t, "GET", path, "t-admin")
		if r.status != 200 || r.header.Get("X-Ratelimit-Reset") != reset {
			t.Fatalf("request %d: %d reset %s, want 200 reset %s", i, r.status, r.header.Get("X-Ratelimit-Reset"), reset)
		}
		h.clk.Advance(10 * time.Second)
	}
	if r := h.call(t, "GET", path, "t-admin"); r.status != 403 || r.header.Get("X-Ratelimit-Reset") != reset {
		t.Fatalf("exhausted: %d reset %s", r.status, r.header.Get("X-Ratelimit-Reset"))
	}
	// 20 s into the window: the reset is 40 s away, not an hour.
	h.clk.Advance(40 * time.Second)
	r := h.call(t, "GET", path, "t-admin")
	if r.status != 200 || r.header.Get("X-Ratelimit-Remaining") != "1" {
		t.Fatalf("after a minute: %d remaining %s", r.status, r.header.Get("X-Ratelimit-Remaining"))
	}
	if want := strconv.FormatInt(t0.Add(2*time.Minute).Unix(), 10); r.header.Get("X-Ratelimit-Reset") != want {
		t.Errorf("new window resets at %s, want %s", r.header.Get("X-Ratelimit-Reset"), want)
	}
}

func TestStats_MaxWindowUsedIsTheHighestUseOfOneWindow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{PrimaryLimit: 3, PrimaryWindow: time.Minute})
	const path = "/orgs/acme/packages/container/web"
	etag := h.call(t, "GET", path, "t-admin").header.Get("ETag")
	// A 304 is not charged, so it does not raise the figure.
	if r := h.call(t, "GET", path, "t-admin", "If-None-Match", etag); r.status != 304 {
		t.Fatalf("conditional GET: %d", r.status)
	}
	h.call(t, "GET", "/user", "t-admin")
	h.call(t, "GET", "/user", "t-admin")
	// Refused by the primary limit: not charged either.
	if r := h.call(t, "GET", "/user", "t-admin"); r.status != 403 {
		t.Fatalf("fourth charged request: %d, want 403", r.status)
	}
	// Another token's use is its own, and lower.
	h.call(t, "GET", "/user", "t-octo")
	if got := h.sim.Stats().MaxWindowUsed; got != 3 {
		t.Errorf("MaxWindowUsed = %d, want 3", got)
	}
	// A new window starts from 0; the highest stays.
	h.clk.Advance(time.Minute)
	h.call(t, "GET", "/user", "t-admin")
	if got := h.sim.Stats().MaxWindowUsed; got != 3 {
		t.Errorf("after a new window: MaxWindowUsed = %d, want 3", got)
	}
	h.sim.ResetStats()
	if got := h.sim.Stats().MaxWindowUsed; got != 0 {
		t.Errorf("after ResetStats: MaxWindowUsed = %d", got)
	}
	// The current window goes on counting from what it used before.
	h.call(t, "GET", "/user", "t-admin")
	if got := h.sim.Stats().MaxWindowUsed; got != 2 {
		t.Errorf("after reset and one request: MaxWindowUsed = %d, want 2", got)
	}
}

func TestStats_MaxWindowUsedIsZeroWithoutPrimaryLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	h.call(t, "GET", "/user", "t-admin")
	h.call(t, "GET", "/orgs/acme/packages?package_type=container", "t-admin")
	if got := h.sim.Stats().MaxWindowUsed; got != 0 {
		t.Errorf("MaxWindowUsed = %d, want 0", got)
	}
}
