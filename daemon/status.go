package daemon

import (
	"context"
	"html/template"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ghprune/ghprune/journal"
)

// statusRows bounds the restorable versions the status page lists one by
// one; the per-run commands cover the rest.
const statusRows = 200

// statusPage is what GET / shows on-call: read-only, rendered on the
// server, working without JavaScript. html/template escapes every value by
// context, so package names and tags cannot inject markup.
var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"when": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04 MST")
	},
	"join": func(s []string) string { return strings.Join(s, ", ") },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ghprune status</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1f2328; }
table { border-collapse: collapse; margin-bottom: 1.5rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
code { background: #f6f8fa; padding: .1rem .3rem; white-space: pre-wrap; word-break: break-all; }
.bad { color: #cf222e; font-weight: 600; }
.ok { color: #1a7f37; }
</style>
</head>
<body>
<h1>ghprune</h1>
<p id="health">Token: {{if .TokenOK}}<span class="ok">accepted</span>{{else}}<span class="bad">not accepted</span>{{end}}.
Config: {{.ConfigPath}}{{if not .ReloadOK}} <span class="bad">(the last reload was refused; the previous config runs)</span>{{end}}.
Page generated {{when .Now}}.</p>

<h2>Policies</h2>
<table id="policies">
<tr><th>Policy</th><th>Schedule</th><th>Mode</th><th>Next run</th><th>Last run</th><th>Result</th></tr>
{{range .Policies}}<tr>
<td>{{.Name}}</td><td><code>{{.Schedule}}</code></td><td>{{.Mode}}</td><td>{{when .NextRun}}</td>
<td>{{if .LastRun}}run {{.LastRun.ID}}, {{when .LastRun.FinishedAt}}{{else}}-{{end}}</td>
<td>{{if .LastRun}}<span class="{{if eq .LastRun.Status "succeeded"}}ok{{else}}bad{{end}}">{{.LastRun.Status}}</span>{{else}}-{{end}}</td>
</tr>{{end}}
</table>

<h2>Recent runs</h2>
<table id="runs">
<tr><th>Run</th><th>Kind</th><th>Policies</th><th>Started</th><th>Status</th><th>Planned</th><th>Deleted</th><th>Skipped</th><th>Failed</th><th>Restored</th></tr>
{{range .Runs}}<tr>
<td><a href="/api/v1/runs/{{.ID}}">{{.ID}}</a></td><td>{{.Kind}}</td><td>{{join .Policies}}</td><td>{{when .Started}}</td>
<td><span class="{{if eq .Status "succeeded"}}ok{{else if eq .Status "running"}}{{else}}bad{{end}}">{{.Status}}</span></td>
<td>{{.Planned}}</td><td>{{.Deleted}}</td><td>{{.Skipped}}</td><td>{{.Failed}}</td><td>{{.Restored}}</td>
</tr>{{else}}<tr><td colspan="10">No runs yet.</td></tr>{{end}}
</table>

<h2>Restorable versions</h2>
<p>{{.RestorableTotal}} deleted versions can still be restored{{if .RestorableTotal}}; the earliest window closes {{when .Earliest}}{{end}}.
Run these where the journal is, for example in the pod: <code>kubectl -n ghprune exec deploy/ghprune -- /ghprune restore …</code>.</p>
{{if .RunCommands}}<table id="restore-runs">
<tr><th>Run</th><th>Versions</th><th>Restore the whole run</th></tr>
{{range .RunCommands}}<tr><td>{{.RunID}}</td><td>{{.Count}}</td><td><code>{{.Command}}</code></td></tr>{{end}}
</table>{{end}}
{{if .Restorable}}<table id="restorable">
<tr><th>Run</th><th>Package</th><th>Version</th><th>Tags</th><th>State</th><th>Restorable until</th><th>Restore this version</th><th>Restore by tag</th></tr>
{{range .Restorable}}<tr>
<td>{{.RunID}}</td><td>{{.Owner}}/{{.Package}}</td><td>{{.VersionID}} {{.Version}}</td><td>{{join .Tags}}</td><td>{{.State}}</td><td>{{when .Until}}</td>
<td><code>{{.ByVersion}}</code></td><td>{{range .ByTag}}<code>{{.}}</code><br>{{end}}</td>
</tr>{{end}}
</table>
{{if gt .RestorableTotal (len .Restorable)}}<p>The first {{len .Restorable}} of {{.RestorableTotal}} are listed; restore the rest by run.</p>{{end}}{{end}}
</body>
</html>
`))

type statusData struct {
	Now             *time.Time
	TokenOK         bool
	ReloadOK        bool
	ConfigPath      string
	Policies        []PolicyInfo
	Runs            []statusRun
	RunCommands     []runRestore
	Restorable      []restorableRow
	RestorableTotal int
	Earliest        *time.Time
}

type statusRun struct {
	journal.Run
	Started *time.Time
}

type runRestore struct {
	RunID   int64
	Count   int
	Command string
}

type restorableRow struct {
	RunID     int64
	Owner     string
	Package   string
	VersionID int64
	Version   string
	Tags      []string
	State     string
	Until     *time.Time
	ByVersion string
	ByTag     []string
}

// status serves the page.
func (d *daemon) status(w http.ResponseWriter, r *http.Request) {
	data, err := d.statusData(r.Context())
	if err != nil {
		d.log.Warn("status page", zap.Error(err))
		http.Error(w, "the journal is unusable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	var b strings.Builder
	if err := statusPage.Execute(&b, data); err != nil {
		d.log.Warn("status page", zap.Error(err))
		http.Error(w, "cannot render the page", http.StatusInternalServerError)
		return
	}
	w.Write([]byte(d.redact(b.String())))
}

func (d *daemon) statusData(ctx context.Context) (statusData, error) {
	now := d.clock.Now()
	pols, err := d.policies(ctx)
	if err != nil {
		return statusData{}, err
	}
	data := statusData{Now: &now, ConfigPath: d.opts.ConfigPath, Policies: pols, ReloadOK: d.reloadOK.Load()}
	d.tokenMu.Lock()
	data.TokenOK = !d.tokenAt.IsZero() && d.tokenErr == nil
	d.tokenMu.Unlock()
	runs, err := d.eng.Runs(ctx, 20)
	if err != nil {
		return statusData{}, err
	}
	for _, r := range runs {
		started := r.StartedAt
		data.Runs = append(data.Runs, statusRun{Run: r, Started: &started})
	}
	rows, err := d.eng.Restorable(ctx)
	if err != nil {
		return statusData{}, err
	}
	slices.SortStableFunc(rows, func(a, b journal.Deletion) int { return untilOf(a).Compare(untilOf(b)) })
	data.RestorableTotal = len(rows)
	perRun := map[int64]int{}
	for i, row := range rows {
		perRun[row.RunID]++
		if i == 0 && row.RestorableUntil != nil {
			data.Earliest = row.RestorableUntil
		}
		if i >= statusRows {
			continue
		}
		rr := restorableRow{RunID: row.RunID, Owner: row.Owner, Package: row.Package, VersionID: row.VersionID,
			Version: row.Version, Tags: row.Tags, State: row.State, Until: row.RestorableUntil,
			ByVersion: d.restoreCommand("-version-id", strconv.FormatInt(row.VersionID, 10))}
		for _, tag := range row.Tags {
			rr.ByTag = append(rr.ByTag, d.restoreCommand("-owner", row.Owner, "-package", row.Package, "-tag", tag))
		}
		data.Restorable = append(data.Restorable, rr)
	}
	ids := make([]int64, 0, len(perRun))
	for id := range perRun {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range slices.Backward(ids) {
		data.RunCommands = append(data.RunCommands, runRestore{RunID: id, Count: perRun[id], Command: d.restoreCommand("-run", strconv.FormatInt(id, 10))})
	}
	return data, nil
}

// untilOf orders open intents, which have no deadline yet, first.
func untilOf(d journal.Deletion) time.Time {
	if d.RestorableUntil == nil {
		return time.Time{}
	}
	return *d.RestorableUntil
}

// restoreCommand is the command line to copy, each word quoted for a POSIX
// shell so a package name or tag cannot change what it runs.
func (d *daemon) restoreCommand(args ...string) string {
	words := append([]string{"ghprune", "restore", "-config", d.opts.ConfigPath}, args...)
	for i, w := range words {
		words[i] = shellQuote(w)
	}
	return strings.Join(words, " ")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`)

// shellQuote returns s as one POSIX shell word.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
