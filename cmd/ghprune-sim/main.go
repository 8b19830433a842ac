// Command ghprune-sim serves the GitHub Packages simulator (package
// simulator) on a loopback address, with a seeded organization, for
// benchmarks (bench/citizen.sh) and manual tries of ghprune against a server
// with GitHub's limits, on the wall clock.
//
//	ghprune-sim -packages 1 -versions 60 -secondary-spacing 500ms
//
// The first line on stdout is the URL to put in ghprune's api_url and
// registry_url; the token (-token, a fixed test token by default) goes in
// GITHUB_TOKEN. It serves until SIGINT or SIGTERM.
//
// The organization (-org) has -packages npm packages, pkg-0001…, of
// -versions versions 0.0.1… created 40 days ago and older (so a rule with
// older_than: 30d deletes them all) plus one version 1.0.0 an hour old; and
// -containers container packages, img-0001…, of as many old untagged images
// with real manifests plus one tagged latest an hour old.
//
// Besides GitHub's API and the registry's manifest reads, it answers
//
//	GET  /_sim/stats        the simulator's Stats as JSON, plus Charged
//	POST /_sim/reset-stats  zeroes them (204)
//
// Charged is what GitHub counts against the primary limit: API answers
// other than 304 (registry requests are not counted). -stats prints the
// same JSON on stdout when the server stops.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/simulator"
)

// defaultToken is shaped like a classic PAT (ghp_ and 36 characters) so
// that ghprune treats it as one; the simulator is the only thing that
// accepts it.
const defaultToken = "ghp_ghprunesim00000000000000000000000000"

// login is the account the token belongs to; it administers the org.
const login = "ghprune-sim"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// config is what the flags say.
type config struct {
	listen, token, org                string
	packages, versions, containers    int
	primaryLimit                      int
	window, secondarySpacing, latency time.Duration
	printStats                        bool
}

// run serves until ctx is done: exit 0, 1 when it cannot serve, 2 for bad
// flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("ghprune-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:0", "serve on `addr`; port 0 picks a free one (the URL is the first line on stdout)")
	fs.StringVar(&c.token, "token", defaultToken, "the one `token` accepted (scopes read, write and delete:packages, repo)")
	fs.StringVar(&c.org, "org", "acme", "the organization seeded")
	fs.IntVar(&c.packages, "packages", 1, "npm packages seeded")
	fs.IntVar(&c.versions, "versions", 10, "old versions per package (older than 30 days); each package also gets one new version")
	fs.IntVar(&c.containers, "containers", 0, "container packages seeded, with as many old untagged images as -versions and a new one tagged latest")
	fs.IntVar(&c.primaryLimit, "primary-limit", 0, "requests per window per token; 0 means no primary limit (and no x-ratelimit headers)")
	fs.DurationVar(&c.window, "window", time.Hour, "the primary limit's window; shorten it so waiting for a reset takes minutes")
	fs.DurationVar(&c.secondarySpacing, "secondary-spacing", 0, "the secondary limit: minimum spacing of accepted mutations; 0 means none")
	fs.DurationVar(&c.latency, "latency", 0, "delay every request by this much")
	fs.BoolVar(&c.printStats, "stats", false, "print the stats as JSON on stdout when stopping")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := c.check(fs.Args()); err != nil {
		fmt.Fprintf(stderr, "ghprune-sim: %v\n", err)
		return 2
	}
	sim, err := seed(c)
	if err != nil {
		fmt.Fprintf(stderr, "ghprune-sim: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		fmt.Fprintf(stderr, "ghprune-sim: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: handler(sim), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "http://%s\n", ln.Addr())
	fmt.Fprintf(stderr, "ghprune-sim: org %s: %d npm and %d container packages of %d old versions and 1 new\n",
		c.org, c.packages, c.containers, c.versions)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	code := 0
	select {
	case err := <-served:
		fmt.Fprintf(stderr, "ghprune-sim: %v\n", err)
		code = 1
	case <-ctx.Done():
		// Requests in flight (a -latency wait) get a few seconds to finish.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
	}
	if c.printStats {
		if err := json.NewEncoder(stdout).Encode(statsOf(sim)); err != nil {
			fmt.Fprintf(stderr, "ghprune-sim: %v\n", err)
			return 1
		}
	}
	return code
}

func (c config) check(rest []string) error {
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected arguments %q", rest)
	case c.token == "" || strings.ContainsAny(c.token, " \t\r\n"):
		return errors.New("-token must be non-empty, without white space")
	case c.org == "":
		return errors.New("-org must be non-empty")
	case c.packages < 0 || c.versions < 0 || c.containers < 0:
		return errors.New("-packages, -versions and -containers must be 0 or more")
	case c.primaryLimit < 0:
		return errors.New("-primary-limit must be 0 or more")
	case c.window <= 0:
		return errors.New("-window must be positive")
	case c.secondarySpacing < 0 || c.latency < 0:
		return errors.New("-secondary-spacing and -latency must be 0 or more")
	}
	return nil
}

// seed builds the simulator on the wall clock and its world.
func seed(c config) (*simulator.Server, error) {
	sim := simulator.New(simulator.Options{
		Clock:           clock.Real{},
		PrimaryLimit:    c.primaryLimit,
		PrimaryWindow:   c.window,
		MutationSpacing: c.secondarySpacing,
	})
	if c.latency > 0 {
		// No Status: the request is only delayed, then answered normally.
		sim.InjectFault(simulator.Fault{Delay: c.latency})
	}
	sim.AddToken(c.token, simulator.Token{Login: login,
		Scopes: []string{"read:packages", "write:packages", "delete:packages", "repo"}})
	sim.AddOrg(c.org, 9919) // no admins listed: the token may delete
	now := time.Now().UTC().Truncate(time.Second)
	// Version i of n is (n-i) seconds older than the oldest kept age, so
	// that ids and ages both grow in listing order.
	old := func(i int) time.Time { return now.Add(-40*24*time.Hour - time.Duration(c.versions-i)*time.Second) }
	for p := 1; p <= c.packages; p++ {
		name := fmt.Sprintf("pkg-%04d", p)
		if err := sim.AddPackage(c.org, simulator.PackageSeed{Name: name, Type: "npm"}); err != nil {
			return nil, err
		}
		for i := 1; i <= c.versions; i++ {
			if _, err := sim.AddVersion(c.org, "npm", name, simulator.VersionSeed{Name: fmt.Sprintf("0.0.%d", i), CreatedAt: old(i)}); err != nil {
				return nil, err
			}
		}
		if _, err := sim.AddVersion(c.org, "npm", name, simulator.VersionSeed{Name: "1.0.0", CreatedAt: now.Add(-time.Hour)}); err != nil {
			return nil, err
		}
	}
	for p := 1; p <= c.containers; p++ {
		name := fmt.Sprintf("img-%04d", p)
		if err := sim.AddPackage(c.org, simulator.PackageSeed{Name: name, Type: "container"}); err != nil {
			return nil, err
		}
		for i := 1; i <= c.versions; i++ {
			m := simulator.ImageManifest("", fmt.Sprintf("%s-%d", name, i), 30<<20, 2<<20)
			if _, err := sim.AddVersion(c.org, "container", name, simulator.VersionSeed{Manifest: m, CreatedAt: old(i)}); err != nil {
				return nil, err
			}
		}
		m := simulator.ImageManifest("", name+"-latest", 30<<20, 2<<20)
		if _, err := sim.AddVersion(c.org, "container", name, simulator.VersionSeed{Manifest: m, Tags: []string{"latest"}, CreatedAt: now.Add(-time.Hour)}); err != nil {
			return nil, err
		}
	}
	return sim, nil
}

// stats is what /_sim/stats and -stats print.
type stats struct {
	simulator.Stats
	// Charged counts the API answers other than 304s, what GitHub counts
	// against the primary limit; the registry's requests are left out.
	Charged int
}

func statsOf(sim *simulator.Server) stats {
	s := stats{Stats: sim.Stats()}
	s.Charged = s.APIRequests() - s.NotModified
	return s
}

// handler serves /_sim/ itself and everything else from the simulator. It
// does not use a ServeMux, which would clean (and redirect) the API's paths.
func handler(sim *simulator.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/_sim/stats":
			if r.Method != http.MethodGet {
				w.Header().Set("Allow", http.MethodGet)
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			_ = enc.Encode(statsOf(sim)) // the client hung up; nothing to do
		case "/_sim/reset-stats":
			if r.Method != http.MethodPost {
				w.Header().Set("Allow", http.MethodPost)
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			sim.ResetStats()
			w.WriteHeader(http.StatusNoContent)
		default:
			sim.ServeHTTP(w, r)
		}
	})
}
