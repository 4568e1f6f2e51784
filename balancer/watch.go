package balancer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// LoadConfigFile reads, parses and validates a config file.
func LoadConfigFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg, err := LoadConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s:\n%w", path, err)
	}
	return cfg, nil
}

// WatchFile hot-reloads the balancer from path each time the file is saved,
// until ctx ends. It watches the directory, so editors that replace the file
// are seen too. Each outcome goes to report (if not nil) as well as to the
// event bus; a bad edit leaves the running config in place.
func (b *Balancer) WatchFile(ctx context.Context, path string, report func(gen uint64, err error)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	defer w.Close()
	path = filepath.Clean(path)
	if err := w.Add(filepath.Dir(path)); err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	last, _ := os.ReadFile(path)
	// Editors save in steps; wait for the writes to settle. File saves are
	// people's wall-clock time, not a scenario's.
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-w.Errors:
			b.log.Warn("config watch", "path", path, "err", err)
		case ev := <-w.Events:
			if filepath.Clean(ev.Name) == path && ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename) {
				settle.Reset(100 * time.Millisecond)
			}
		case <-settle.C:
			data, err := os.ReadFile(path)
			if err != nil || bytes.Equal(data, last) {
				continue
			}
			last = data
			gen, err := b.ReloadYAML(data)
			if report != nil {
				report(gen, err)
			}
		}
	}
}
