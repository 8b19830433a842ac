package daemon

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/metrics"
)

// The loop's look at an unchanged config every minute is no reload: it
// does not count, or the success counter would grow by one a minute and
// the last success always read now. A reload asked for counts; so does a
// look after a refused reload, the file being the running config again.
func TestReload_AnUnchangedLookIsNotCounted(t *testing.T) {
	data := []byte("version: 1\n")
	path := filepath.Join(t.TempDir(), "ghprune.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	d := &daemon{log: zap.NewNop(), dm: metrics.NewDaemon(reg), clock: clock.NewFake(time.Unix(1e9, 0)),
		opts: Options{ConfigPath: path}, cfgDigest: sha256.Sum256(data)}
	d.reloadOK.Store(true)
	reloads := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "ghprune_config_reloads_total" {
				for _, m := range mf.GetMetric() {
					if m.GetLabel()[0].GetValue() == "success" {
						return m.GetCounter().GetValue()
					}
				}
			}
		}
		return 0
	}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := d.reload(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	if n := reloads(); n != 0 {
		t.Errorf("3 looks at an unchanged file counted %v successes, want 0", n)
	}
	if err := d.reload(ctx, false); err != nil || reloads() != 1 {
		t.Errorf("a reload asked for: %v, %v successes, want 1", err, reloads())
	}
	d.reloadOK.Store(false) // as after a refused reload
	if err := d.reload(ctx, true); err != nil || reloads() != 2 || !d.reloadOK.Load() {
		t.Errorf("a look after a refused reload: %v, %v successes, ok %v; want 2 and ok", err, reloads(), d.reloadOK.Load())
	}
}
