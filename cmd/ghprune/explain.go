package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
)

// cmdExplain shows every step of the decision order for one version of one
// package, and which step decided. It only reads.
func cmdExplain(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	config := fs.String("config", policy.DefaultConfigFile, "config `file`")
	polName := fs.String("policy", "", "the `policy` whose decision to explain (required)")
	pkg := fs.String("package", "", "the `package` (required)")
	version := fs.String("version", "", "the version `name` (a digest for containers), a tag, or a numeric version id")
	format := fs.String("format", "", "table or json")
	snapPath := fs.String("snapshot", "", "explain from the snapshot `file` instead of GitHub: no request, no token")
	atFlag := fs.String("at", "", "explain as of `TIME`: RFC 3339, a date, or +30d/+2w from now")
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	if *polName == "" || *pkg == "" || *version == "" {
		fmt.Fprintln(e.stderr, "ghprune explain: -policy, -package and -version are required")
		return exitUsage
	}
	fmtName, err := resolveFormat(*format, "", e)
	if err != nil || fmtName == "markdown" {
		fmt.Fprintln(e.stderr, "ghprune explain: -format is table or json")
		return exitUsage
	}
	cfg, code := loadConfig(*config, e)
	if cfg == nil {
		return code
	}
	pol := cfg.Policy(*polName)
	if pol == nil {
		fmt.Fprintf(e.stderr, "ghprune: no policy %q in %s\n", *polName, cfg.File)
		return exitUsage
	}
	at, err := parseOneAt(*atFlag, e.clock.Now())
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune explain: %v\n", err)
		return exitUsage
	}
	var eng *engine.Engine
	if *snapPath != "" {
		snap, code := loadSnapshot(*snapPath, cfg, e)
		if snap == nil {
			return code
		}
		eng, code = openOffline(ctx, cfg, snap, "warn", e)
		if eng == nil {
			return code
		}
	} else if eng, code = openEngine(ctx, cfg, "warn", e, engine.JournalOptional); eng == nil {
		return code
	}
	defer eng.Close()
	x, err := eng.ExplainAt(ctx, pol, *pkg, *version, at)
	if err != nil {
		if errors.Is(err, engine.ErrNoSuchVersion) {
			fmt.Fprintf(e.stderr, "ghprune explain: %v\n", report.Escape(err.Error()))
		} else {
			fmt.Fprintf(e.stderr, "ghprune: %v\n", report.Escape(err.Error()))
		}
		return exitFailed
	}
	steps, d := x.Steps, x.Decision
	if fmtName == "json" {
		report.WriteJSON(e.stdout, map[string]any{"policy": pol.Name, "package": *pkg, "version_id": d.Version.ID, "version": d.Version.Name,
			"tags": nonNilTags(d.Version.Tags), "action": d.Action, "rule": d.Rule, "reason": d.Reason, "steps": steps})
		return exitOK
	}
	fmt.Fprintf(e.stdout, "%s %s/%s version %d %s %s\n\n", pol.Name, report.Escape(pol.Select.Owner), report.Escape(*pkg), d.Version.ID,
		report.Escape(d.Version.Name), report.Escape(report.TagList(d.Version.Tags)))
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  STEP\tAPPLIES\tDETAIL")
	for _, s := range steps {
		mark, applies := " ", "no"
		if s.Matched {
			applies = "yes"
		}
		if s.Decided {
			mark = "→"
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\n", mark, s.Step, applies, report.Escape(report.ShortDigests(s.Detail)))
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "\ndecision: %s (%s): %s\n", d.Action, report.Escape(report.ShortDigests(string(d.Rule))), report.Escape(report.ShortDigests(d.Reason)))
	return exitOK
}

func nonNilTags(t []string) []string {
	if t == nil {
		return []string{}
	}
	return t
}
