package policy

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// randomPolicy writes a random but valid container policy as YAML, so the
// properties below hold for policies nobody thought to write by hand.
func randomPolicy(r *rand.Rand) string {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	tagPat := func() string {
		return pick(`"main-*"`, `"pr-*"`, `"v*"`, `"latest"`, `"re:rel-[0-9]+"`, `"semver:>=1.0.0"`, `"**"`)
	}
	var b strings.Builder
	b.WriteString("    protect:\n")
	if r.IntN(2) == 0 {
		fmt.Fprintf(&b, "      tags: [%s]\n", tagPat())
	}
	if r.IntN(3) == 0 {
		fmt.Fprintf(&b, "      newer_than: %dh\n", 1+r.IntN(200))
	}
	fmt.Fprintf(&b, "      keep_at_least: %d\n", r.IntN(6))
	cond := func() string {
		var cs []string
		if r.IntN(2) == 0 {
			cs = append(cs, "tags: ["+tagPat()+"]")
		}
		if r.IntN(3) == 0 {
			cs = append(cs, "untagged: "+pick("true", "false"))
		}
		if r.IntN(2) == 0 {
			cs = append(cs, fmt.Sprintf("older_than: %dd", r.IntN(60)+1))
		}
		if r.IntN(4) == 0 {
			cs = append(cs, fmt.Sprintf("most_recent: %d", r.IntN(10)))
		}
		if r.IntN(5) == 0 {
			cs = append(cs, "age_basis: updated_at")
		}
		return strings.Join(cs, ", ")
	}
	if n := r.IntN(3); n > 0 {
		b.WriteString("    keep:\n")
		for i := 0; i < n; i++ {
			c := cond()
			if c != "" {
				c = ", " + c
			}
			fmt.Fprintf(&b, "      - {name: k%d%s}\n", i, c)
		}
	}
	b.WriteString("    delete:\n")
	for i := 0; i < 1+r.IntN(3); i++ {
		c := cond()
		if !strings.Contains(c, "older_than") && !strings.Contains(c, "tags") && !strings.Contains(c, "untagged: true") {
			c = strings.TrimPrefix(c+", older_than: 1d", ", ")
		}
		fmt.Fprintf(&b, "      - {name: d%d, %s}\n", i, c)
	}
	fmt.Fprintf(&b, "    limits: {max_deletes_per_run: %d, max_delete_percent: %d}\n", r.IntN(40), []int{0, 50, 90}[r.IntN(3)])
	return b.String()
}

func randomVersions(r *rand.Rand) []Version {
	tags := [][]string{nil, nil, {"latest"}, {"main-1"}, {"main-2", "v1.2.0"}, {"pr-7"}, {"rel-3"}, {"v0.9.0"}, {"v2.0.0-rc.1"}}
	var vs []Version
	for i := 0; i < 1+r.IntN(40); i++ {
		c := now.Add(-time.Duration(r.IntN(90*24)) * time.Hour)
		vs = append(vs, Version{ID: int64(i + 1), Name: fmt.Sprintf("sha256:%d", i), Tags: tags[r.IntN(len(tags))],
			CreatedAt: c, UpdatedAt: c.Add(time.Duration(r.IntN(48)) * time.Hour)})
	}
	return vs
}

// The properties of a plan, over random packages and policies:
// reordering changes nothing; a keep match is never deleted; a protected
// version is never deleted; keep_at_least holds; the run cap holds; at
// least one version (and one tagged, for containers) survives.
func TestDecide_Properties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for iter := 0; iter < 400; iter++ {
		body := randomPolicy(r)
		p := mustPolicy(t, "container", body)
		pkgs := [][]Version{randomVersions(r), randomVersions(r), randomVersions(r)}
		plans := make([][]Decision, len(pkgs))
		for i, vs := range pkgs {
			plans[i] = p.Decide(vs, now, Facts{})
		}
		ApplyRunLimit(plans, p.Limits.MaxDeletesPerRun)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("iteration %d, policy:\n%s\n%s", iter, body, fmt.Sprintf(format, args...))
		}
		deletes := 0
		for pi, ds := range plans {
			vs := ds
			kept, keptTagged, tagged := 0, 0, 0
			for rank, d := range vs {
				v := d.Version
				if len(v.Tags) > 0 {
					tagged++
				}
				if d.Action == Keep {
					kept++
					if len(v.Tags) > 0 {
						keptTagged++
					}
					continue
				}
				deletes++
				if len(p.Protect.Tags) > 0 && p.Protect.Tags.MatchAny(v.Tags) {
					fail("protected tag deleted: %+v", d)
				}
				if p.Protect.NewerThan > 0 && now.Sub(v.CreatedAt) < time.Duration(p.Protect.NewerThan) {
					fail("version newer than protect.newer_than deleted: %+v", d)
				}
				if rank < p.Protect.KeepAtLeast {
					fail("keep_at_least %d violated at rank %d: %+v", p.Protect.KeepAtLeast, rank, d)
				}
				for _, k := range p.Keep {
					if k.matches([]*Version{v}, now, true, nil)[0] && k.MostRecent == nil {
						fail("keep rule %s matches but version deleted: %+v", k.Name, d)
					}
				}
			}
			if kept == 0 || (tagged > 0 && keptTagged == 0) {
				fail("package %d: no version (or no tagged version) survives", pi)
			}
			// Reordering versions and rules changes nothing.
			shuffled := append([]Version(nil), pkgs[pi]...)
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			q := *p
			q.Keep = append([]*Rule(nil), p.Keep...)
			q.Delete = append([]*Rule(nil), p.Delete...)
			r.Shuffle(len(q.Delete), func(i, j int) { q.Delete[i], q.Delete[j] = q.Delete[j], q.Delete[i] })
			r.Shuffle(len(q.Keep), func(i, j int) { q.Keep[i], q.Keep[j] = q.Keep[j], q.Keep[i] })
			again := q.Decide(shuffled, now, Facts{})
			single := p.Decide(pkgs[pi], now, Facts{})
			for i := range single {
				if single[i].Version.ID != again[i].Version.ID || single[i].Rule != again[i].Rule || single[i].Reason != again[i].Reason {
					fail("reordering changed version %d: %s vs %s", single[i].Version.ID, single[i].Rule, again[i].Rule)
				}
			}
		}
		if m := p.Limits.MaxDeletesPerRun; m > 0 && deletes > m {
			fail("%d deletes over max_deletes_per_run %d", deletes, m)
		}
	}
}
