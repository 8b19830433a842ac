// Package metrics defines ghprune's Prometheus metrics on an injected
// registry (never the global one), so tests and several daemons in one
// process do not collide. Labels are bounded: policy names, operations,
// status codes and a fixed set of reasons; never version ids or tags.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/ghprune/ghprune/internal/version"
	"github.com/ghprune/ghprune/plan"
)

// Metrics holds every ghprune metric. Callers record through its methods,
// with typed reasons and results, so every label value comes from a small
// fixed vocabulary.
type Metrics struct {
	runs             *prometheus.CounterVec   // policy, result
	runDuration      *prometheus.HistogramVec // policy
	lastSuccess      *prometheus.GaugeVec     // policy
	versionsScanned  *prometheus.CounterVec   // policy
	versionsPlanned  *prometheus.CounterVec   // policy
	versionsDeleted  *prometheus.CounterVec   // policy
	freedBytes       *prometheus.CounterVec   // policy
	versionsSkipped  *prometheus.CounterVec   // policy, reason
	versionsFailed   *prometheus.CounterVec   // policy, reason
	restores         *prometheus.CounterVec   // result
	requests         *prometheus.CounterVec   // operation, code
	requestDuration  *prometheus.HistogramVec // operation
	rateRemaining    *prometheus.GaugeVec     // resource
	rateReset        *prometheus.GaugeVec     // resource
	secondaryLimited prometheus.Counter
	pace             prometheus.Gauge
	paused           prometheus.Gauge
	pauses           prometheus.Counter
	pausedSeconds    prometheus.Counter
	versionsDeferred *prometheus.CounterVec // policy
	policyRequests   *prometheus.CounterVec // policy
	lastRunRequests  *prometheus.GaugeVec   // policy
	retries          prometheus.Counter
	restorable       prometheus.Gauge
	earliestDeadline prometheus.Gauge
	journalRestores  *prometheus.GaugeVec   // result
	manifestFetches  *prometheus.CounterVec // code
	buildInfo        *prometheus.GaugeVec   // version, commit, goversion
}

// New registers every metric on reg.
func New(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		runs: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_runs_total",
			Help: "Policy runs by policy and result (success, failure, cancelled)."}, []string{"policy", "result"}),
		runDuration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "ghprune_run_duration_seconds",
			Help: "Duration of policy runs.", Buckets: prometheus.ExponentialBuckets(1, 2.5, 10)}, []string{"policy"}),
		lastSuccess: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ghprune_last_success_timestamp_seconds",
			Help: "Unix time of the last successful run of each policy."}, []string{"policy"}),
		versionsScanned: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_versions_scanned_total",
			Help: "Package versions listed and decided."}, []string{"policy"}),
		versionsPlanned: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_versions_planned_for_deletion_total",
			Help: "Versions a plan decided to delete."}, []string{"policy"}),
		freedBytes: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_planned_freed_bytes_total",
			Help: "Bytes the planned deletions would free (blobs no kept manifest uses), summed over runs."}, []string{"policy"}),
		versionsDeleted: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_versions_deleted_total",
			Help: "Versions deleted."}, []string{"policy"}),
		versionsSkipped: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_versions_skipped_total",
			Help: "Planned deletions not carried out, by reason: GitHub refused (download_limit, last_version), a parent index was not deleted (parent_kept), the version was gone already (already_gone), gained a tag (gained_tag) or its package changed (package_changed) since the plan."}, []string{"policy", "reason"}),
		versionsFailed: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_versions_failed_total",
			Help: "Planned deletions that failed, by reason (server_error, rate_limited, forbidden, not_found, redirected, cancelled, other)."}, []string{"policy", "reason"}),
		restores: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_restores_total",
			Help: "Version restores sent by this process, by result (restored, failed, expired, already-restored, in-progress, not-deleted); restores made by another process show in ghprune_journal_restores."}, []string{"result"}),
		requests: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_github_requests_total",
			Help: "GitHub API requests by operation and HTTP status code (0: no answer)."}, []string{"operation", "code"}),
		requestDuration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "ghprune_github_request_duration_seconds",
			Help: "GitHub API request latency.", Buckets: prometheus.DefBuckets}, []string{"operation"}),
		rateRemaining: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ghprune_github_rate_limit_remaining",
			Help: "Primary rate-limit requests remaining, per resource."}, []string{"resource"}),
		rateReset: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ghprune_github_rate_limit_reset_timestamp_seconds",
			Help: "Unix time the primary rate limit resets, per resource."}, []string{"resource"}),
		secondaryLimited: f.NewCounter(prometheus.CounterOpts{Name: "ghprune_github_secondary_rate_limit_hits_total",
			Help: "Answers refusing a request for GitHub's secondary rate limit."}),
		pace: f.NewGauge(prometheus.GaugeOpts{Name: "ghprune_mutation_pace_per_minute",
			Help: "The pace deletes and restores are sent at now: limits.mutations_per_minute, or less after a secondary rate limit refused one."}),
		paused: f.NewGauge(prometheus.GaugeOpts{Name: "ghprune_budget_paused",
			Help: "1 while a run waits for the token's rate-limit window to reset (limits.budget_share is spent), else 0."}),
		pauses: f.NewCounter(prometheus.CounterOpts{Name: "ghprune_budget_pauses_total",
			Help: "Times a run paused until the rate-limit window reset because limits.budget_share was spent."}),
		pausedSeconds: f.NewCounter(prometheus.CounterOpts{Name: "ghprune_budget_paused_seconds_total",
			Help: "Time runs spent paused for the rate-limit window to reset."}),
		versionsDeferred: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_versions_deferred_total",
			Help: "Planned deletions left for the next run: by the run cap (max_deletes_per_run) or because the run reached limits.max_run_duration."}, []string{"policy"}),
		policyRequests: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_policy_api_requests_total",
			Help: "GitHub API requests policy runs sent (retries and 304s included)."}, []string{"policy"}),
		lastRunRequests: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ghprune_policy_last_run_api_requests",
			Help: "GitHub API requests the policy's last run sent: the budget it used."}, []string{"policy"}),
		retries: f.NewCounter(prometheus.CounterOpts{Name: "ghprune_github_retries_total",
			Help: "Requests retried after a server error, network error or rate limit."}),
		restorable: f.NewGauge(prometheus.GaugeOpts{Name: "ghprune_journal_restorable_versions",
			Help: "Deleted versions still inside GitHub's 30-day restore window."}),
		earliestDeadline: f.NewGauge(prometheus.GaugeOpts{Name: "ghprune_journal_earliest_restore_deadline_timestamp_seconds",
			Help: "Unix time the first restorable version leaves the restore window (0: none)."}),
		journalRestores: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ghprune_journal_restores",
			Help: "Journaled deletions restored (result=restored) or whose last restore failed (result=failed), by any process."}, []string{"result"}),
		manifestFetches: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_registry_manifest_fetches_total",
			Help: "Container registry manifest GET attempts by HTTP status code (0: no answer), retries and bearer-token challenges (401) included."}, []string{"code"}),
		buildInfo: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ghprune_build_info",
			Help: "Build information (ghprune version, commit, Go version); always 1."}, []string{"version", "commit", "goversion"}),
	}
	m.buildInfo.WithLabelValues(version.Version(), version.Commit(), version.GoVersion()).Set(1)
	return m
}

// ObserveRequest records one GitHub API attempt.
func (m *Metrics) ObserveRequest(op string, status int, d time.Duration, retry, secondary bool) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	m.requestDuration.WithLabelValues(op).Observe(d.Seconds())
	if retry {
		m.retries.Inc()
	}
	if secondary {
		m.secondaryLimited.Inc()
	}
}

// MutationPace records the pace mutations are sent at now.
func (m *Metrics) MutationPace(perMinute float64) {
	if m == nil {
		return
	}
	m.pace.Set(perMinute)
}

// BudgetPause records a pause for the rate-limit window to start (paused)
// or end after took.
func (m *Metrics) BudgetPause(paused bool, took time.Duration) {
	if m == nil {
		return
	}
	if paused {
		m.paused.Set(1)
		m.pauses.Inc()
		return
	}
	m.paused.Set(0)
	m.pausedSeconds.Add(took.Seconds())
}

// ObserveManifestFetch records one manifest GET attempt against the
// container registry; code 0 means no answer (a network error).
func (m *Metrics) ObserveManifestFetch(code int) {
	if m == nil {
		return
	}
	m.manifestFetches.WithLabelValues(strconv.Itoa(code)).Inc()
}

// ObserveRate records the last rate-limit headers seen.
func (m *Metrics) ObserveRate(resource string, remaining int, reset time.Time) {
	if m == nil || resource == "" {
		return
	}
	m.rateRemaining.WithLabelValues(resource).Set(float64(remaining))
	m.rateReset.WithLabelValues(resource).Set(float64(reset.Unix()))
}

// RunResult is how a policy run ended.
type RunResult string

// Run results.
const (
	Success   RunResult = "success"
	Failure   RunResult = "failure"
	Cancelled RunResult = "cancelled"
)

// PolicyRun records one policy's run at its end, from what its plan
// decided and did: published once per run, the way prow's sinker does.
func (m *Metrics) PolicyRun(p *plan.Policy, result RunResult, took time.Duration, finished time.Time) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(p.Name, string(result)).Inc()
	m.runDuration.WithLabelValues(p.Name).Observe(took.Seconds())
	if result == Success {
		m.lastSuccess.WithLabelValues(p.Name).Set(float64(finished.Unix()))
	}
	m.policyRequests.WithLabelValues(p.Name).Add(float64(p.APIRequests))
	m.lastRunRequests.WithLabelValues(p.Name).Set(float64(p.APIRequests))
	c := p.Count()
	m.versionsScanned.WithLabelValues(p.Name).Add(float64(c.Versions))
	m.versionsPlanned.WithLabelValues(p.Name).Add(float64(c.Delete))
	m.freedBytes.WithLabelValues(p.Name).Add(float64(c.FreedBytes))
	if c.Deferred > 0 {
		m.versionsDeferred.WithLabelValues(p.Name).Add(float64(c.Deferred))
	}
	if c.Deleted > 0 {
		m.versionsDeleted.WithLabelValues(p.Name).Add(float64(c.Deleted))
	}
	for cause, n := range c.SkippedBy {
		m.versionsSkipped.WithLabelValues(p.Name, string(cause)).Add(float64(n))
	}
	for cause, n := range c.FailedBy {
		m.versionsFailed.WithLabelValues(p.Name, string(cause)).Add(float64(n))
	}
}

// Restored records the restores of one restore run by their result.
func (m *Metrics) Restored(results map[plan.RestoreResult]int) {
	if m == nil {
		return
	}
	for r, n := range results {
		m.restores.WithLabelValues(string(r)).Add(float64(n))
	}
}

// Journal records what the journal holds: the versions still restorable
// and the earliest deadline (zero when none), and the deletions restored
// and whose last restore failed, by any process.
func (m *Metrics) Journal(restorable int, earliest time.Time, restored, failed int) {
	if m == nil {
		return
	}
	m.restorable.Set(float64(restorable))
	if earliest.IsZero() {
		m.earliestDeadline.Set(0)
	} else {
		m.earliestDeadline.Set(float64(earliest.Unix()))
	}
	m.journalRestores.WithLabelValues("restored").Set(float64(restored))
	m.journalRestores.WithLabelValues("failed").Set(float64(failed))
}
