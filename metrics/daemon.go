package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Daemon holds the metrics only serve exports: its config, its schedule and
// what on-call is paged on.
type Daemon struct {
	reloads         *prometheus.CounterVec // result
	reloadOK        prometheus.Gauge
	reloadOKTime    prometheus.Gauge
	interval        *prometheus.GaugeVec // policy
	nextRun         *prometheus.GaugeVec // policy
	tokenAccepted   *prometheus.GaugeVec // no labels: absent until the first verdict
	lastTick        prometheus.Gauge
	restoreDeadline prometheus.Gauge
}

// NewDaemon registers the daemon's metrics on reg.
func NewDaemon(reg prometheus.Registerer) *Daemon {
	f := promauto.With(reg)
	return &Daemon{
		reloads: f.NewCounterVec(prometheus.CounterOpts{Name: "ghprune_config_reloads_total",
			Help: "Config reloads by result (success, failure); a reload asked for (SIGHUP, POST /-/reload, a file event) of an unchanged file counts as a success; the look at the file every minute counts only after a failure."}, []string{"result"}),
		reloadOK: f.NewGauge(prometheus.GaugeOpts{Name: "ghprune_config_last_reload_successful",
			Help: "Whether the last config load or reload succeeded (1) or was refused (0)."}),
		reloadOKTime: f.NewGauge(prometheus.GaugeOpts{Name: "ghprune_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful config load or reload."}),
		interval: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ghprune_policy_schedule_interval_seconds",
			Help: "Seconds between two scheduled runs of each policy, as its schedule is now."}, []string{"policy"}),
		nextRun: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ghprune_policy_next_run_timestamp_seconds",
			Help: "Unix time of each policy's next scheduled run."}, []string{"policy"}),
		tokenAccepted: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ghprune_token_accepted",
			Help: "Whether GitHub accepted the token at the last check (1) or refused it (0); absent until GitHub has answered."}, nil),
		lastTick: f.NewGauge(prometheus.GaugeOpts{Name: "ghprune_scheduler_last_tick_timestamp_seconds",
			Help: "Unix time of the scheduler's last heartbeat; it beats every 15 seconds while it dispatches."}),
		restoreDeadline: f.NewGauge(prometheus.GaugeOpts{Name: "ghprune_journal_failed_restore_earliest_deadline_timestamp_seconds",
			Help: "Earliest restore deadline of the deleted versions whose restore was asked for and failed, and that are still not restored (0: none)."}),
	}
}

// Reloaded records a config load or reload and whether it succeeded.
func (d *Daemon) Reloaded(ok bool, at time.Time) {
	if ok {
		d.reloads.WithLabelValues("success").Inc()
		d.reloadOK.Set(1)
		d.reloadOKTime.Set(float64(at.Unix()))
		return
	}
	d.reloads.WithLabelValues("failure").Inc()
	d.reloadOK.Set(0)
}

// Loaded records the config loaded at start.
func (d *Daemon) Loaded(at time.Time) {
	d.reloadOK.Set(1)
	d.reloadOKTime.Set(float64(at.Unix()))
}

// Schedules records each scheduled policy's interval and next run; policies
// no longer scheduled lose their series.
func (d *Daemon) Schedules(interval map[string]time.Duration, next map[string]time.Time) {
	d.interval.Reset()
	d.nextRun.Reset()
	for p, iv := range interval {
		d.interval.WithLabelValues(p).Set(iv.Seconds())
	}
	for p, t := range next {
		d.nextRun.WithLabelValues(p).Set(float64(t.Unix()))
	}
}

// TokenChecked records whether GitHub accepted the token.
func (d *Daemon) TokenChecked(accepted bool) {
	if accepted {
		d.tokenAccepted.WithLabelValues().Set(1)
	} else {
		d.tokenAccepted.WithLabelValues().Set(0)
	}
}

// Tick records a heartbeat of the scheduler.
func (d *Daemon) Tick(at time.Time) { d.lastTick.Set(float64(at.Unix())) }

// FailedRestores records the earliest deadline of the versions whose restore
// failed (zero: none).
func (d *Daemon) FailedRestores(earliest time.Time) {
	if earliest.IsZero() {
		d.restoreDeadline.Set(0)
		return
	}
	d.restoreDeadline.Set(float64(earliest.Unix()))
}
