// Package monitoring_test checks the monitoring shipped with ghprune serve:
// the kustomization renders and every object decodes strictly into its real
// Go type, the ServiceMonitor finds the base's Service, the alerts pass
// `promtool check rules` and the unit tests of rules_test.yaml, and the
// dashboard's queries are valid PromQL on the right data source.
//
// The metric names themselves are checked against a running daemon by
// cmd/ghprune's TestMonitoring_RefersOnlyToExportedMetrics.
package monitoring_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/ghprune/ghprune/deploy"
)

// types are the Go types of everything deploy/monitoring renders.
var types = deploy.Types{
	"monitoring.coreos.com/v1 ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1 PrometheusRule": func() any { return &monitoringv1.PrometheusRule{} },
	"v1 ConfigMap": func() any { return &corev1.ConfigMap{} },
}

// rendered is deploy/monitoring as `kubectl kustomize` renders it, each
// object decoded strictly.
type rendered struct {
	monitor   *monitoringv1.ServiceMonitor
	rule      *monitoringv1.PrometheusRule
	ruleYAML  []byte // the PrometheusRule as rendered
	dashboard *corev1.ConfigMap
}

func render(t *testing.T) rendered {
	t.Helper()
	objs, err := deploy.Render(".")
	if err != nil {
		t.Fatal(err)
	}
	vals, err := deploy.DecodeAll(objs, types)
	if err != nil {
		t.Fatal(err)
	}
	var r rendered
	for i, v := range vals {
		if objs[i].Namespace != "ghprune" {
			t.Errorf("%s: namespace %q, want ghprune", objs[i].ID(), objs[i].Namespace)
		}
		switch v := v.(type) {
		case *monitoringv1.ServiceMonitor:
			r.monitor = v
		case *monitoringv1.PrometheusRule:
			r.rule, r.ruleYAML = v, objs[i].YAML
		case *corev1.ConfigMap:
			r.dashboard = v
		}
	}
	if r.monitor == nil || r.rule == nil || r.dashboard == nil || len(objs) != 3 {
		t.Fatalf("want one ServiceMonitor, one PrometheusRule and one ConfigMap, rendered %d objects", len(objs))
	}
	return r
}

// The ServiceMonitor scrapes the base's Service on its metrics port every
// 30 seconds.
func TestMonitoring_ServiceMonitorFindsTheService(t *testing.T) {
	r := render(t)
	sel := r.monitor.Spec.Selector.MatchLabels
	if want := map[string]string{"app.kubernetes.io/name": "ghprune"}; !equalMaps(sel, want) {
		t.Errorf("ServiceMonitor selects %v, want %v", sel, want)
	}
	if n := len(r.monitor.Spec.Endpoints); n != 1 {
		t.Fatalf("ServiceMonitor has %d endpoints, want 1", n)
	}
	ep := r.monitor.Spec.Endpoints[0]
	if ep.Port != "metrics" || ep.Interval != "30s" || ep.Path != "/metrics" {
		t.Errorf("endpoint port %q interval %q path %q, want metrics 30s /metrics", ep.Port, ep.Interval, ep.Path)
	}

	base, err := deploy.Render("..")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, o := range base {
		if o.APIVersion != "v1" || o.Kind != "Service" {
			continue
		}
		var svc corev1.Service
		if err := o.DecodeStrict(&svc); err != nil {
			t.Fatal(err)
		}
		if svc.Namespace != r.monitor.Namespace || !matches(sel, svc.Labels) {
			continue
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == ep.Port {
				found = append(found, svc.Name)
			}
		}
	}
	if len(found) != 1 {
		t.Errorf("Services of deploy/ the ServiceMonitor scrapes on port %q: %v, want exactly one", ep.Port, found)
	}
}

// The dashboard ships as a ConfigMap Grafana's sidecar picks up, with the
// JSON file as it is in the repository.
func TestMonitoring_DashboardConfigMap(t *testing.T) {
	r := render(t)
	cm := r.dashboard
	if cm.Name != "ghprune-dashboard" {
		t.Errorf("dashboard ConfigMap is named %q, want ghprune-dashboard (no hash suffix)", cm.Name)
	}
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v lack grafana_dashboard: \"1\"", cm.Labels)
	}
	want, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["ghprune.json"]; got != string(want) {
		t.Errorf("ConfigMap data[ghprune.json] is not dashboard.json (keys %v)", mapKeys(cm.Data))
	}
}

// Every alert says how bad it is and what happened, and waits before it
// fires.
func TestMonitoring_AlertsAreComplete(t *testing.T) {
	r := render(t)
	seen := map[string]bool{}
	for _, g := range r.rule.Spec.Groups {
		for _, rule := range g.Rules {
			if rule.Alert == "" {
				continue
			}
			if seen[rule.Alert] {
				t.Errorf("alert %s defined twice", rule.Alert)
			}
			seen[rule.Alert] = true
			if s := rule.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
				t.Errorf("%s: severity %q, want critical, warning or info", rule.Alert, s)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(rule.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", rule.Alert, a)
				}
			}
			if rule.For == nil || *rule.For == "" || *rule.For == "0s" {
				t.Errorf("%s: no for: duration", rule.Alert)
			}
		}
	}
	if len(seen) < 8 {
		t.Errorf("only %d alerts: %v", len(seen), mapKeys(seen))
	}
}

// promtool returns the path of promtool, skipping the test without it
// unless GHPRUNE_REQUIRE_PROMTOOL=1 (as .ci/run sets).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("GHPRUNE_REQUIRE_PROMTOOL") == "1" {
			t.Fatalf("GHPRUNE_REQUIRE_PROMTOOL=1 but promtool is not on PATH: %v", err)
		}
		t.Skip("promtool not on PATH (apt-get install prometheus); set GHPRUNE_REQUIRE_PROMTOOL=1 to require it")
	}
	return p
}

// runPromtool runs promtool in dir and fails the test with its output.
func runPromtool(t *testing.T, bin, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// The rules, extracted from the PrometheusRule as the operator hands them
// to Prometheus, pass `promtool check rules` and the unit tests of
// rules_test.yaml, which test every alert both firing and not firing.
func TestMonitoring_RulesPassPromtool(t *testing.T) {
	r := render(t)
	alerts := map[string]bool{}
	for _, g := range r.rule.Spec.Groups {
		for _, rule := range g.Rules {
			if rule.Alert != "" {
				alerts[rule.Alert] = true
			}
		}
	}
	checkEveryAlertTested(t, alerts)

	bin := promtool(t)
	dir := t.TempDir()
	writeRulesFile(t, filepath.Join(dir, "rules.yaml"), r.ruleYAML)
	tests, err := os.ReadFile("rules_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules_test.yaml"), tests, 0o600); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, bin, dir, "check", "rules", "rules.yaml")
	runPromtool(t, bin, dir, "test", "rules", "rules_test.yaml")
}

// writeRulesFile writes spec.groups of a rendered PrometheusRule as a
// Prometheus rules file, exactly as written (not as the Go type re-encodes
// it).
func writeRulesFile(t *testing.T, path string, prometheusRule []byte) {
	t.Helper()
	var obj struct {
		Spec struct {
			Groups []any `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(prometheusRule, &obj); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(map[string]any{"groups": obj.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkEveryAlertTested fails for an alert rules_test.yaml does not test
// both firing (some expected alert) and not firing (exp_alerts: []), and
// for a test of an alert that does not exist.
func checkEveryAlertTested(t *testing.T, alerts map[string]bool) {
	t.Helper()
	data, err := os.ReadFile("rules_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		RuleFiles []string `json:"rule_files"`
		Tests     []struct {
			Name          string `json:"name"`
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(file.RuleFiles, []string{"rules.yaml"}) {
		t.Errorf("rules_test.yaml: rule_files %v, want [rules.yaml] (the extracted rules)", file.RuleFiles)
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range file.Tests {
		for _, a := range tc.AlertRuleTest {
			if !alerts[a.Alertname] {
				t.Errorf("rules_test.yaml %q tests %s, which prometheusrule.yaml does not define", tc.Name, a.Alertname)
			}
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for a := range alerts {
		if !firing[a] {
			t.Errorf("rules_test.yaml never expects %s to fire", a)
		}
		if !quiet[a] {
			t.Errorf("rules_test.yaml never expects %s not to fire", a)
		}
	}
}

// dashboard is the part of Grafana's dashboard model the tests read.
type dashboard struct {
	SchemaVersion int     `json:"schemaVersion"`
	UID           string  `json:"uid"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasource     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	Targets    []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func (d *datasource) isVariable() bool {
	return d != nil && d.Type == "prometheus" && d.UID == "${datasource}"
}

// policyMetrics are the metrics labelled by policy: a dashboard query of
// one of them must follow the policy variable.
var policyMetrics = []string{
	"ghprune_runs_total", "ghprune_run_duration_seconds", "ghprune_last_success_timestamp_seconds",
	"ghprune_versions_scanned_total", "ghprune_versions_planned_for_deletion_total",
	"ghprune_versions_deleted_total", "ghprune_planned_freed_bytes_total",
	"ghprune_versions_skipped_total", "ghprune_versions_failed_total",
	"ghprune_policy_schedule_interval_seconds", "ghprune_policy_next_run_timestamp_seconds",
}

// The dashboard queries the data source variable, has a policy variable the
// per-policy panels follow, and its queries are valid PromQL.
func TestMonitoring_Dashboard(t *testing.T) {
	data, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	if d.SchemaVersion < 39 {
		t.Errorf("schemaVersion %d: want a current Grafana's (39 or later)", d.SchemaVersion)
	}
	if d.UID == "" {
		t.Error("dashboard has no uid: every load would make a new one")
	}
	checkDashboardVariables(t, &d)
	rules := checkPanels(t, d.Panels)
	if len(rules) < 10 {
		t.Fatalf("only %d queries in the dashboard", len(rules))
	}

	// promtool parses PromQL: the queries, their Grafana variables replaced,
	// become recording rules of a file it checks.
	bin := promtool(t)
	dir := t.TempDir()
	out, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dashboard-rules.yaml"), out, 0o600); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, bin, dir, "check", "rules", "dashboard-rules.yaml")
}

// checkDashboardVariables checks that the dashboard has a prometheus data
// source variable and a policy query variable on it.
func checkDashboardVariables(t *testing.T, d *dashboard) {
	t.Helper()
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		switch v.Name {
		case "datasource":
			vars[v.Name] = v.Type == "datasource" && string(v.Query) == `"prometheus"`
		case "policy":
			vars[v.Name] = v.Type == "query" && v.Datasource.isVariable() && strings.Contains(string(v.Query), "policy")
		}
	}
	if !vars["datasource"] || !vars["policy"] {
		t.Errorf("want a datasource variable of type prometheus and a policy query variable on it, got %+v", d.Templating.List)
	}
}

// checkPanels checks every panel, those of rows included, for a unique id,
// the data source variable and queries that follow the policy variable, and
// returns the queries as recording rules named after panel and query.
func checkPanels(t *testing.T, panels []panel) []map[string]string {
	t.Helper()
	ids := map[int]string{}
	var rules []map[string]string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if other, ok := ids[p.ID]; ok || p.ID == 0 {
				t.Errorf("panel %q: id %d (also %q)", p.Title, p.ID, other)
			}
			ids[p.ID] = p.Title
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			rules = append(rules, checkPanelQueries(t, p)...)
		}
	}
	walk(panels)
	return rules
}

// checkPanelQueries checks the data sources and queries of a panel that is
// not a row and returns its queries as recording rules.
func checkPanelQueries(t *testing.T, p panel) []map[string]string {
	t.Helper()
	if !p.Datasource.isVariable() {
		t.Errorf("panel %q: datasource %+v, want prometheus ${datasource}", p.Title, p.Datasource)
	}
	if len(p.Targets) == 0 {
		t.Errorf("panel %q has no query", p.Title)
	}
	var rules []map[string]string
	for _, q := range p.Targets {
		if !q.Datasource.isVariable() {
			t.Errorf("panel %q query %s: datasource %+v, want prometheus ${datasource}", p.Title, q.RefID, q.Datasource)
		}
		if q.Expr == "" {
			t.Errorf("panel %q query %s: no expr", p.Title, q.RefID)
			continue
		}
		for _, m := range policyMetrics {
			sel := regexp.MustCompile(regexp.QuoteMeta(m) + `(?:_bucket|_sum|_count)?(\{[^}]*\})?`)
			for _, s := range sel.FindAllStringSubmatch(q.Expr, -1) {
				if !strings.Contains(s[1], `policy=~"$policy"`) {
					t.Errorf("panel %q query %s: %s does not follow the policy variable", p.Title, q.RefID, s[0])
				}
			}
		}
		rules = append(rules, map[string]string{
			"record": fmt.Sprintf("dashboard:panel_%d:%s", p.ID, q.RefID),
			"expr":   grafanaVariables.Replace(q.Expr),
		})
	}
	return rules
}

// grafanaVariables replaces the variables the dashboard's queries use with
// values Prometheus would see.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "2m",
	"$__interval", "1m",
	"$__range", "7d",
	"$policy", ".*",
)

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	return matches(a, b)
}

// matches says whether labels has every pair of sel.
func matches(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func mapKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
