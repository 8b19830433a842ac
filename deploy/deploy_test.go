package deploy

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// baseTypes are the kinds the base may contain, with their k8s.io/api types.
var baseTypes = Types{
	"v1 Namespace":                       func() any { return &corev1.Namespace{} },
	"v1 ServiceAccount":                  func() any { return &corev1.ServiceAccount{} },
	"v1 ConfigMap":                       func() any { return &corev1.ConfigMap{} },
	"v1 Secret":                          func() any { return &corev1.Secret{} },
	"v1 PersistentVolumeClaim":           func() any { return &corev1.PersistentVolumeClaim{} },
	"v1 Service":                         func() any { return &corev1.Service{} },
	"apps/v1 Deployment":                 func() any { return &appsv1.Deployment{} },
	"networking.k8s.io/v1 NetworkPolicy": func() any { return &networkingv1.NetworkPolicy{} },
}

const (
	namespace = "ghprune"
	uid       = 65532
)

// base is the rendered, strictly decoded base in this directory.
type base struct {
	ns         *corev1.Namespace
	sa         *corev1.ServiceAccount
	cm         *corev1.ConfigMap
	pvc        *corev1.PersistentVolumeClaim
	svc        *corev1.Service
	deploy     *appsv1.Deployment
	netpol     *networkingv1.NetworkPolicy
	secrets    []*corev1.Secret
	objs       []Object
	err        error
	kindsCount map[string]int
}

var (
	baseOnce sync.Once
	theBase  base
)

// renderBase renders and decodes "." once for every test that reads it.
func renderBase(t *testing.T) *base {
	t.Helper()
	baseOnce.Do(func() {
		b := &theBase
		b.objs, b.err = Render(".")
		if b.err != nil {
			return
		}
		vals, err := DecodeAll(b.objs, baseTypes)
		if err != nil {
			b.err = err
			return
		}
		b.kindsCount = map[string]int{}
		for _, v := range vals {
			switch o := v.(type) {
			case *corev1.Namespace:
				b.ns = o
			case *corev1.ServiceAccount:
				b.sa = o
			case *corev1.ConfigMap:
				b.cm = o
			case *corev1.Secret:
				b.secrets = append(b.secrets, o)
			case *corev1.PersistentVolumeClaim:
				b.pvc = o
			case *corev1.Service:
				b.svc = o
			case *appsv1.Deployment:
				b.deploy = o
			case *networkingv1.NetworkPolicy:
				b.netpol = o
			}
		}
		for _, o := range b.objs {
			b.kindsCount[o.Kind]++
		}
	})
	if theBase.err != nil {
		t.Fatalf("kubectl kustomize deploy: %v", theBase.err)
	}
	return &theBase
}

func TestBase_RendersOneOfEachObjectInItsNamespace(t *testing.T) {
	b := renderBase(t)
	want := map[string]int{"Namespace": 1, "ServiceAccount": 1, "ConfigMap": 1, "PersistentVolumeClaim": 1,
		"Deployment": 1, "Service": 1, "NetworkPolicy": 1}
	for k, n := range want {
		if b.kindsCount[k] != n {
			t.Errorf("%d %s, want %d", b.kindsCount[k], k, n)
		}
	}
	for k, n := range b.kindsCount {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %d %s", n, k)
		}
	}
	if b.ns == nil || b.ns.Name != namespace {
		t.Fatalf("no Namespace %q", namespace)
	}
	for _, o := range b.objs {
		if o.Kind == "Namespace" {
			continue
		}
		if o.Namespace != namespace {
			t.Errorf("%s: namespace %q, want %q", o.ID(), o.Namespace, namespace)
		}
	}
}

func TestBase_EveryObjectIsLabelled(t *testing.T) {
	b := renderBase(t)
	for _, o := range b.objs {
		var m struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(o.YAML, &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]string{"app.kubernetes.io/name": "ghprune", "app.kubernetes.io/part-of": "ghprune"} {
			if m.Metadata.Labels[k] != v {
				t.Errorf("%s: label %s = %q, want %q", o.ID(), k, m.Metadata.Labels[k], v)
			}
		}
	}
}

// The token is created by hand (README); a Secret in the base would either
// carry a token into the repository or overwrite the real one on apply.
func TestBase_ShipsNoSecretData(t *testing.T) {
	b := renderBase(t)
	for _, s := range b.secrets {
		if len(s.Data) > 0 || len(s.StringData) > 0 {
			t.Errorf("Secret %s ships data: keys %v %v", s.Name, keys(s.Data), keys(s.StringData))
		}
	}
	for _, o := range b.objs {
		if strings.Contains(string(o.YAML), "ghp_") || strings.Contains(string(o.YAML), "github_pat_") {
			t.Errorf("%s contains something like a GitHub token", o.ID())
		}
	}
}

func TestBase_ServiceAccountHasNoKubernetesToken(t *testing.T) {
	b := renderBase(t)
	if b.sa.AutomountServiceAccountToken == nil || *b.sa.AutomountServiceAccountToken {
		t.Errorf("ServiceAccount automountServiceAccountToken = %v, want false", ptrStr(b.sa.AutomountServiceAccountToken))
	}
	pod := b.deploy.Spec.Template.Spec
	if pod.ServiceAccountName != b.sa.Name {
		t.Errorf("pod runs as ServiceAccount %q, want %q", pod.ServiceAccountName, b.sa.Name)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("pod automountServiceAccountToken = %v, want false", ptrStr(pod.AutomountServiceAccountToken))
	}
}

// One pod, never two: they would share the journal (and its lock).
func TestBase_DeploymentIsOneReplicaRecreated(t *testing.T) {
	b := renderBase(t)
	d := b.deploy
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1", ptrStr(d.Spec.Replicas))
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q, want Recreate", d.Spec.Strategy.Type)
	}
	sel, err := metaSelector(d.Spec.Selector.MatchLabels)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("selector %v does not select the pod template's labels %v", d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(d.Spec.Template.Spec.Containers))
	}
}

// The kubelet refuses runAsNonRoot with an image whose USER is a name: the
// ids must be numbers, here and in the Dockerfile.
func TestBase_PodRunsAsNumericNonRootWithNothingWritableButVolumes(t *testing.T) {
	b := renderBase(t)
	pod := b.deploy.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil {
		t.Fatal("no pod securityContext")
	}
	for name, v := range map[string]*int64{"runAsUser": psc.RunAsUser, "runAsGroup": psc.RunAsGroup, "fsGroup": psc.FSGroup} {
		if v == nil || *v != uid {
			t.Errorf("pod %s = %v, want %d", name, ptrStr(v), uid)
		}
	}
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod runAsNonRoot is not true")
	}
	if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod seccompProfile = %+v, want RuntimeDefault", psc.SeccompProfile)
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("no container securityContext")
	}
	for name, v := range map[string]*int64{"runAsUser": sc.RunAsUser, "runAsGroup": sc.RunAsGroup} {
		if v != nil && *v != uid {
			t.Errorf("container %s = %d, want %d (or unset: the pod's)", name, *v, uid)
		}
	}
	checks := map[string]bool{
		"runAsNonRoot: true":              sc.RunAsNonRoot == nil || *sc.RunAsNonRoot, // unset inherits the pod's true
		"readOnlyRootFilesystem: true":    sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem,
		"allowPrivilegeEscalation: false": sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation,
		"privileged: not true":            sc.Privileged == nil || !*sc.Privileged,
		"capabilities drop ALL, add none": sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL") && len(sc.Capabilities.Add) == 0,
		"seccomp RuntimeDefault":          sc.SeccompProfile == nil || sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("container securityContext: want %s, got %+v", what, sc)
		}
	}
	tmp := mountAt(c, "/tmp")
	if tmp == nil {
		t.Fatal("nothing mounted at /tmp: the root filesystem is read-only")
	}
	if v := volume(pod, tmp.Name); v == nil || v.EmptyDir == nil {
		t.Errorf("/tmp is volume %q, want an emptyDir", tmp.Name)
	}
}

func TestBase_ProbesAndPort(t *testing.T) {
	b := renderBase(t)
	c := b.deploy.Spec.Template.Spec.Containers[0]
	if len(c.Ports) != 1 || c.Ports[0].Name != "metrics" || c.Ports[0].ContainerPort != 9090 {
		t.Fatalf("ports %+v, want one named metrics on 9090", c.Ports)
	}
	for name, tc := range map[string]struct {
		p    *corev1.Probe
		path string
	}{"liveness": {c.LivenessProbe, "/healthz"}, "readiness": {c.ReadinessProbe, "/readyz"}} {
		if tc.p == nil || tc.p.HTTPGet == nil {
			t.Errorf("no %s httpGet probe", name)
			continue
		}
		if tc.p.HTTPGet.Path != tc.path {
			t.Errorf("%s probe path %q, want %q", name, tc.p.HTTPGet.Path, tc.path)
		}
		if !portIs(tc.p.HTTPGet.Port, c.Ports[0]) {
			t.Errorf("%s probe port %s, want metrics (9090)", name, tc.p.HTTPGet.Port.String())
		}
	}
	if !slices.Equal(c.Args[:3], []string{"serve", "-config", "/etc/ghprune/ghprune.yaml"}) {
		t.Errorf("args %q, want serve -config /etc/ghprune/ghprune.yaml …", c.Args)
	}
	if i := slices.Index(c.Args, "-listen"); i >= 0 && (i+1 >= len(c.Args) || !strings.HasSuffix(c.Args[i+1], ":9090")) {
		t.Errorf("args %q listen elsewhere than :9090", c.Args)
	}
}

func TestBase_Resources(t *testing.T) {
	b := renderBase(t)
	r := b.deploy.Spec.Template.Spec.Containers[0].Resources
	if lim, ok := r.Limits[corev1.ResourceMemory]; !ok || lim.Cmp(resource.MustParse("512Mi")) != 0 {
		t.Errorf("memory limit %v, want 512Mi", r.Limits.Memory())
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, ok := r.Requests[res]
		if !ok || req.IsZero() {
			t.Errorf("no %s request", res)
		}
		if lim, ok := r.Limits[res]; ok && req.Cmp(lim) > 0 {
			t.Errorf("%s request %s above its limit %s", res, req.String(), lim.String())
		}
	}
}

// The daemon reads ghprune.yaml from a ConfigMap mounted as a directory
// (a subPath mount never sees an update), the token from a file of the
// Secret, and writes its journal to the claim.
func TestBase_VolumesMatchTheConfig(t *testing.T) {
	b := renderBase(t)
	pod := b.deploy.Spec.Template.Spec
	c := pod.Containers[0]

	cfg := mountedConfig(t, b, pod, c)
	if cfg.GitHub.TokenEnv != "" {
		t.Errorf("ghprune.yaml sets token_env %q: in the cluster the token is a file", cfg.GitHub.TokenEnv)
	}
	checkTokenMount(t, pod, c, cfg.GitHub.TokenFile)
	checkJournalMount(t, b, pod, c, cfg.State.Path)
}

// clusterConfig is what the volume checks read of the ghprune.yaml of the
// ConfigMap.
type clusterConfig struct {
	GitHub struct {
		TokenFile string `json:"token_file"`
		TokenEnv  string `json:"token_env"`
	} `json:"github"`
	State struct {
		Path string `json:"path"`
	} `json:"state"`
}

// mountedConfig checks that the file the container's -config names is the
// ConfigMap's, mounted as a read-only directory, and decodes it.
func mountedConfig(t *testing.T, b *base, pod corev1.PodSpec, c corev1.Container) clusterConfig {
	t.Helper()
	cfgFile := c.Args[slices.Index(c.Args, "-config")+1]
	cfgMount := mountAt(c, path.Dir(cfgFile))
	if cfgMount == nil || cfgMount.SubPath != "" || !cfgMount.ReadOnly {
		t.Fatalf("the config directory %s is not a read-only directory mount: %+v", path.Dir(cfgFile), cfgMount)
	}
	cfgVol := volume(pod, cfgMount.Name)
	if cfgVol == nil || cfgVol.ConfigMap == nil || cfgVol.ConfigMap.Name != b.cm.Name {
		t.Fatalf("%s is not the ConfigMap %q", cfgMount.MountPath, b.cm.Name)
	}
	// A generator's hash suffix would make every edit a restart, not a reload.
	if b.cm.Name != "ghprune-config" {
		t.Errorf("ConfigMap is named %q, want ghprune-config (no hash suffix)", b.cm.Name)
	}
	src, ok := b.cm.Data[path.Base(cfgFile)]
	if !ok || strings.TrimSpace(src) == "" {
		t.Fatalf("ConfigMap %s has no %s (keys %v)", b.cm.Name, path.Base(cfgFile), keys(b.cm.Data))
	}
	var cfg clusterConfig
	if err := yaml.Unmarshal([]byte(src), &cfg); err != nil {
		t.Fatalf("ghprune.yaml: %v", err)
	}
	return cfg
}

// checkTokenMount checks that tokenFile is a file of the Secret
// ghprune-token in a read-only mount.
func checkTokenMount(t *testing.T, pod corev1.PodSpec, c corev1.Container, tokenFile string) {
	t.Helper()
	tokMount := mountAt(c, path.Dir(tokenFile))
	if tokMount == nil || !tokMount.ReadOnly {
		t.Fatalf("token_file %q is not in a read-only mount", tokenFile)
	}
	tokVol := volume(pod, tokMount.Name)
	if tokVol == nil || tokVol.Secret == nil || tokVol.Secret.SecretName != "ghprune-token" {
		t.Fatalf("token_file %q is not from the Secret ghprune-token", tokenFile)
	}
	if items := tokVol.Secret.Items; len(items) > 0 && !slices.ContainsFunc(items, func(k corev1.KeyToPath) bool {
		return k.Path == path.Base(tokenFile)
	}) {
		t.Errorf("the Secret volume's items %+v do not put a file at %s", items, tokenFile)
	}
}

// checkJournalMount checks that statePath is in a writable mount of the
// journal's claim, which is ReadWriteOnce and requests storage.
func checkJournalMount(t *testing.T, b *base, pod corev1.PodSpec, c corev1.Container, statePath string) {
	t.Helper()
	jMount := mountAt(c, path.Dir(statePath))
	if jMount == nil || jMount.ReadOnly {
		t.Fatalf("state.path %q is not in a writable mount", statePath)
	}
	jVol := volume(pod, jMount.Name)
	if jVol == nil || jVol.PersistentVolumeClaim == nil || jVol.PersistentVolumeClaim.ClaimName != b.pvc.Name {
		t.Fatalf("state.path %q is not on the PersistentVolumeClaim %q", statePath, b.pvc.Name)
	}
	if !slices.Contains(b.pvc.Spec.AccessModes, corev1.ReadWriteOnce) {
		t.Errorf("the journal claim's access modes %v lack ReadWriteOnce", b.pvc.Spec.AccessModes)
	}
	if _, ok := b.pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		t.Error("the journal claim requests no storage")
	}
}

func TestBase_ServiceExposesTheMetricsPort(t *testing.T) {
	b := renderBase(t)
	c := b.deploy.Spec.Template.Spec.Containers[0]
	if !labels.SelectorFromSet(b.svc.Spec.Selector).Matches(labels.Set(b.deploy.Spec.Template.Labels)) || len(b.svc.Spec.Selector) == 0 {
		t.Errorf("Service selector %v does not select the pod %v", b.svc.Spec.Selector, b.deploy.Spec.Template.Labels)
	}
	if len(b.svc.Spec.Ports) != 1 {
		t.Fatalf("Service ports %+v, want one", b.svc.Spec.Ports)
	}
	p := b.svc.Spec.Ports[0]
	// deploy/monitoring's ServiceMonitor scrapes the port by this name.
	if p.Name != "metrics" || p.Port != 9090 || !portIs(p.TargetPort, c.Ports[0]) {
		t.Errorf("Service port %+v, want metrics 9090 → the container's metrics port", p)
	}
}

// In: the metrics port only. Out: DNS and HTTPS only.
func TestBase_NetworkPolicy(t *testing.T) {
	b := renderBase(t)
	np := b.netpol.Spec
	sel, err := metaSelector(np.PodSelector.MatchLabels)
	if err != nil || sel.Empty() || len(np.PodSelector.MatchExpressions) > 0 || !sel.Matches(labels.Set(b.deploy.Spec.Template.Labels)) {
		t.Errorf("podSelector %+v does not select the pod %v", np.PodSelector, b.deploy.Spec.Template.Labels)
	}
	if !slices.Contains(np.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Errorf("policyTypes %v, want Ingress and Egress", np.PolicyTypes)
	}
	c := b.deploy.Spec.Template.Spec.Containers[0]
	if len(np.Ingress) == 0 {
		t.Error("no ingress rule: Prometheus could not scrape")
	}
	for i, r := range np.Ingress {
		if len(r.Ports) == 0 {
			t.Errorf("ingress[%d] allows every port", i)
		}
		for _, p := range r.Ports {
			if p.Port == nil || !portIs(*p.Port, c.Ports[0]) || p.EndPort != nil || protocol(p.Protocol) != corev1.ProtocolTCP {
				t.Errorf("ingress[%d] allows %s, want only TCP 9090 (metrics)", i, portStr(p))
			}
		}
	}
	allowed := map[string]bool{}
	for i, r := range np.Egress {
		if len(r.Ports) == 0 {
			t.Errorf("egress[%d] allows every port", i)
		}
		for _, p := range r.Ports {
			s := portStr(p)
			if s != "53/UDP" && s != "53/TCP" && s != "443/TCP" {
				t.Errorf("egress[%d] allows %s, want only 53/UDP, 53/TCP and 443/TCP", i, s)
			}
			allowed[s] = true
		}
	}
	for _, want := range []string{"53/UDP", "53/TCP", "443/TCP"} {
		if !allowed[want] {
			t.Errorf("egress does not allow %s", want)
		}
	}
}

// The decoder is what makes the tests above mean anything: it must refuse
// what the API server would drop or refuse.
func TestDecodeStrict_RefusesUnknownMiscasedAndDuplicateFields(t *testing.T) {
	t.Parallel()
	ok := "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\nautomountServiceAccountToken: false\n"
	if err := (Object{YAML: []byte(ok)}).DecodeStrict(&corev1.ServiceAccount{}); err != nil {
		t.Fatalf("a valid object: %v", err)
	}
	for name, src := range map[string]string{
		"unknown field":    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\nautomountToken: false\n",
		"miscased field":   "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\nautomountServiceaccountToken: false\n",
		"duplicate key":    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\n  name: y\n",
		"nested unknown":   "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\n  label: {a: b}\n",
		"wrong value type": "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\nautomountServiceAccountToken: \"no\"\n",
	} {
		if err := (Object{Kind: "ServiceAccount", YAML: []byte(src)}).DecodeStrict(&corev1.ServiceAccount{}); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	if _, err := DecodeAll([]Object{{APIVersion: "v1", Kind: "Pod", YAML: []byte(ok)}}, baseTypes); err == nil {
		t.Error("DecodeAll accepted a kind it has no type for")
	}
}

func metaSelector(m map[string]string) (labels.Selector, error) {
	return labels.ValidatedSelectorFromSet(m)
}

func mountAt(c corev1.Container, dir string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if path.Clean(c.VolumeMounts[i].MountPath) == path.Clean(dir) {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

func volume(pod corev1.PodSpec, name string) *corev1.Volume {
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == name {
			return &pod.Volumes[i]
		}
	}
	return nil
}

// portIs says whether p names or numbers the container port cp.
func portIs(p intstr.IntOrString, cp corev1.ContainerPort) bool {
	if p.Type == intstr.String {
		return p.StrVal == cp.Name
	}
	return p.IntVal == cp.ContainerPort
}

func protocol(p *corev1.Protocol) corev1.Protocol {
	if p == nil {
		return corev1.ProtocolTCP // the API's default
	}
	return *p
}

func portStr(p networkingv1.NetworkPolicyPort) string {
	port := "all"
	if p.Port != nil {
		port = p.Port.String()
	}
	if p.EndPort != nil {
		port += fmt.Sprintf("-%d", *p.EndPort)
	}
	return port + "/" + string(protocol(p.Protocol))
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func ptrStr[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}
