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
)

// Metrics holds every ghprune metric.
type Metrics struct {
	Runs             *prometheus.CounterVec   // policy, result
	RunDuration      *prometheus.HistogramVec // policy
	LastSuccess      *prometheus.GaugeVec     // policy
	VersionsScanned  *prometheus.CounterVec   // policy
	VersionsPlanned  *prometheus.CounterVec   // policy
	VersionsDeleted  *prometheus.CounterVec   // policy
	FreedBytes       *prometheus.CounterVec   // policy
	VersionsSkipped  *prometheus.CounterVec   // policy, reason
	VersionsFailed   *prometheus.CounterVec   // policy, reason
	Restores         *prometheus.CounterVec   // result
	Requests         *prometheus.CounterVec   // operation, code
	RequestDuration  *prometheus.HistogramVec // operation
	RateRemaining    *prometheus.GaugeVec     // resource
	RateReset        *prometheus.GaugeVec     // resource
	SecondaryLimited prometheus.Counter
	Retries          prometheus.Counter
	Restorable       prometheus.Gauge
	EarliestDeadline prometheus.Gauge
	JournalRestores  *prometheus.GaugeVec   // result
	ConfigReloads    *prometheus.CounterVec // result
	ManifestFetches  *prometheus.CounterVec // code
	BuildInfo        *prometheus.GaugeVec   // version, commit, goversion
}

// New registers every metric on reg.
func New(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		Runs: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_runs_total",
			Help: "Policy runs by policy and result (success, failure, cancelled)."}, []string{"policy", "result"}),
		RunDuration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "ghprune_run_duration_seconds",
			Help: "Duration of policy runs.", Buckets: prometheus.ExponentialBuckets(1, 2.5, 10)}, []string{"policy"}),
		LastSuccess: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ghprune_last_success_timestamp_seconds",
			Help: "Unix time of the last successful run of each policy."}, []string{"policy"}),
		VersionsScanned: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_versions_scanned_total",
			Help: "Package versions listed and decided."}, []string{"policy"}),
		VersionsPlanned: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_versions_planned_for_deletion_total",
			Help: "Versions a plan decided to delete."}, []string{"policy"}),
		FreedBytes: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_planned_freed_bytes_total",
			Help: "Bytes the planned deletions would free (blobs no kept manifest uses), summed over runs."}, []string{"policy"}),
		VersionsDeleted: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_versions_deleted_total",
			Help: "Versions deleted."}, []string{"policy"}),
		VersionsSkipped: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_versions_skipped_total",
			Help: "Planned deletions not carried out, by reason: GitHub refused (download_limit, last_version), or a parent index was not deleted (parent_kept)."}, []string{"policy", "reason"}),
		VersionsFailed: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_versions_failed_total",
			Help: "Planned deletions that failed, by reason (server_error, rate_limited, forbidden, other)."}, []string{"policy", "reason"}),
		Restores: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_restores_total",
			Help: "Version restores by result (restored, failed, expired)."}, []string{"result"}),
		Requests: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_github_requests_total",
			Help: "GitHub API requests by operation and HTTP status code (0: no answer)."}, []string{"operation", "code"}),
		RequestDuration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "ghprune_github_request_duration_seconds",
			Help: "GitHub API request latency.", Buckets: prometheus.DefBuckets}, []string{"operation"}),
		RateRemaining: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ghprune_github_rate_limit_remaining",
			Help: "Primary rate-limit requests remaining, per resource."}, []string{"resource"}),
		RateReset: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ghprune_github_rate_limit_reset_timestamp_seconds",
			Help: "Unix time the primary rate limit resets, per resource."}, []string{"resource"}),
		SecondaryLimited: f.NewCounter(prometheus.CounterOpts{Name: "ghprune_github_secondary_rate_limit_hits_total",
			Help: "Answers refusing a request for GitHub's secondary rate limit."}),
		Retries: f.NewCounter(prometheus.CounterOpts{Name: "ghprune_github_retries_total",
			Help: "Requests retried after a server error, network error or rate limit."}),
		Restorable: f.NewGauge(prometheus.GaugeOpts{Name: "ghprune_journal_restorable_versions",
			Help: "Deleted versions still inside GitHub's 30-day restore window."}),
		EarliestDeadline: f.NewGauge(prometheus.GaugeOpts{Name: "ghprune_journal_earliest_restore_deadline_timestamp_seconds",
			Help: "Unix time the first restorable version leaves the restore window (0: none)."}),
		JournalRestores: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ghprune_journal_restores",
			Help: "Journaled deletions restored (result=restored) or whose last restore failed (result=failed), by any process."}, []string{"result"}),
		ConfigReloads: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_config_reloads_total",
			Help: "Config reloads by result (success, failure)."}, []string{"result"}),
		ManifestFetches: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_registry_manifest_fetches_total",
			Help: "Container registry manifest GET attempts by HTTP status code (0: no answer), retries and bearer-token challenges (401) included."}, []string{"code"}),
		BuildInfo: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ghprune_build_info",
			Help: "Build information (ghprune version, commit, Go version); always 1."}, []string{"version", "commit", "goversion"}),
	}
	m.BuildInfo.WithLabelValues(version.Version(), version.Commit(), version.GoVersion()).Set(1)
	return m
}

// ObserveRequest records one GitHub API attempt.
func (m *Metrics) ObserveRequest(op string, status int, d time.Duration, retry, secondary bool) {
	if m == nil {
		return
	}
	m.Requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	m.RequestDuration.WithLabelValues(op).Observe(d.Seconds())
	if retry {
		m.Retries.Inc()
	}
	if secondary {
		m.SecondaryLimited.Inc()
	}
}

// ObserveManifestFetch records one manifest GET attempt against the
// container registry; code 0 means no answer (a network error).
func (m *Metrics) ObserveManifestFetch(code int) {
	if m == nil {
		return
	}
	m.ManifestFetches.WithLabelValues(strconv.Itoa(code)).Inc()
}

// ObserveRate records the last rate-limit headers seen.
func (m *Metrics) ObserveRate(resource string, remaining int, reset time.Time) {
	if m == nil || resource == "" {
		return
	}
	m.RateRemaining.WithLabelValues(resource).Set(float64(remaining))
	m.RateReset.WithLabelValues(resource).Set(float64(reset.Unix()))
}

// ObserveRestorable records the journal's restore window.
func (m *Metrics) ObserveRestorable(n int, earliest time.Time) {
	if m == nil {
		return
	}
	m.Restorable.Set(float64(n))
	if earliest.IsZero() {
		m.EarliestDeadline.Set(0)
	} else {
		m.EarliestDeadline.Set(float64(earliest.Unix()))
	}
}
