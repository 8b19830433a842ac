package policy

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchPolicy is a realistic container policy touching every step.
const benchPolicy = `    protect: {tags: ["latest", "prod", "semver:>=1.0.0"], newer_than: 72h, keep_at_least: 5}
    keep: [{name: recent-main, tags: ["main-*"], most_recent: 20}]
    delete:
      - {name: orphans, untagged: true, older_than: 7d}
      - {name: stale-pr-builds, tags: ["pr-*"], older_than: 14d}
      - {name: old-main, tags: ["main-*"], older_than: 30d}
    limits: {max_deletes_per_run: 500000, max_delete_percent: 95}
`

// GenPackages makes n packages of per versions each, with a realistic mix
// of tags (main, PR, release, untagged), deterministic for a seed.
func GenPackages(n, per int, seed uint64, now time.Time) [][]Version {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([][]Version, n)
	id := int64(0)
	for p := range out {
		vs := make([]Version, per)
		for i := range vs {
			id++
			var tags []string
			switch k := r.IntN(10); {
			case k < 4: // untagged
			case k < 7:
				tags = []string{fmt.Sprintf("pr-%d", r.IntN(5000))}
			case k < 9:
				tags = []string{fmt.Sprintf("main-%d", i)}
			default:
				tags = []string{fmt.Sprintf("v1.%d.%d", i/10, i%10)}
			}
			at := now.Add(-time.Duration(r.IntN(365*24)) * time.Hour)
			vs[i] = Version{ID: id, Name: fmt.Sprintf("sha256:%016x%048d", id, 0), Tags: tags, CreatedAt: at, UpdatedAt: at}
		}
		out[p] = vs
	}
	return out
}

// BenchmarkDecide_1MVersions decides 1,000,000 versions across 10,000
// packages of one policy as the planner does: Decide per package, one
// after the other, then ApplyRunLimit over them all. The target is under
// 1 s and 300 MiB on 2 cores.
func BenchmarkDecide_1MVersions(b *testing.B) {
	p := mustPolicy(&testing.T{}, "container", benchPolicy)
	pkgs := GenPackages(10_000, 100, 42, now)
	// The input's own live heap, so the figures separate deciding from the
	// million versions it decides.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	inputMiB := float64(ms.HeapAlloc) / (1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		plans := make([][]Decision, len(pkgs))
		for i, vs := range pkgs {
			plans[i] = p.Decide(vs, now, Facts{})
		}
		ApplyRunLimit(plans, p.Limits.MaxDeletesPerRun)
	}
	b.ReportMetric(float64(len(pkgs)*100), "versions/op")
	b.ReportMetric(inputMiB, "input-MiB") // after the loop: ResetTimer clears reported metrics
	// Memory as the process sees it: the peak resident set, input included.
	if kib, ok := peakRSSKiB(); ok {
		b.ReportMetric(float64(kib)/1024, "peak-RSS-MiB")
	}
}

// peakRSSKiB reads the process's peak resident set (VmHWM) where Linux
// tells it.
func peakRSSKiB() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
