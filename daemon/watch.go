package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// settle is how long the config directory must be quiet before a change is
// read: an editor's save or the kubelet's symlink swap is several events.
const settle = 500 * time.Millisecond

// watchConfig reloads the config when its directory changes. Watching the
// directory, not the file, is what sees a Kubernetes ConfigMap update: the
// kubelet writes a new ..data directory and swaps a symlink, and the file
// ghprune opened is never written. Events on the config's own name and on
// the kubelet's "..*" entries count; others (a journal beside the config)
// do not. A reload of an unchanged file does nothing. The watch ends with
// ctx.
func (d *daemon) watchConfig(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch config: %w", err)
	}
	dir, base := filepath.Dir(d.opts.ConfigPath), filepath.Base(d.opts.ConfigPath)
	if err := w.Add(dir); err != nil {
		w.Close()
		return fmt.Errorf("watch config directory %s: %w", dir, err)
	}
	go func() {
		defer w.Close()
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if name := filepath.Base(ev.Name); name == base || strings.HasPrefix(name, "..") {
					d.log.Debug("config directory changed", zap.String("name", ev.Name), zap.String("op", ev.Op.String()))
					timer.Reset(settle)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				d.log.Warn("watching the config directory", zap.Error(err))
			case <-timer.C:
				d.reload(ctx, false)
			}
		}
	}()
	return nil
}
