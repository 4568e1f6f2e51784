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
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ConfigWatch reloads a balancer from a config file each time it is saved.
type ConfigWatch struct {
	w    *fsnotify.Watcher
	path string
	last []byte
}

// WatchConfigFile starts watching path; saves from now on are seen. It
// watches the directory, so editors that replace the file are seen too.
func WatchConfigFile(path string) (*ConfigWatch, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	path = filepath.Clean(path)
	if err := w.Add(filepath.Dir(path)); err != nil {
		w.Close()
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	last, _ := os.ReadFile(path)
	return &ConfigWatch{w: w, path: path, last: last}, nil
}

// Settling: editors save in steps (truncate, then write; write a temporary
// file, then rename; delete, then create). The watcher applies a file once
// it has been quiet for settleQuiet; an empty file waits settleEmpty more
// for the write that usually follows, and only then counts as a save (it
// is rejected, never applied). Both are people's wall-clock time, not a
// scenario's, and together stay well under a second.
const (
	settleQuiet = 150 * time.Millisecond
	settleEmpty = 500 * time.Millisecond
)

// Run hot-reloads b on every save until ctx ends, then releases the watch.
// Each outcome goes to report (if not nil) as well as to the event bus; a
// bad edit leaves the running config in place. The final content of a
// burst of writes is applied once.
func (cw *ConfigWatch) Run(ctx context.Context, b *Balancer, report func(gen uint64, err error)) {
	defer cw.w.Close()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	waitedForEmpty := false
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-cw.w.Errors:
			b.log.Warn("config watch", "path", cw.path, "err", err)
		case ev := <-cw.w.Events:
			if filepath.Clean(ev.Name) == cw.path && ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) {
				settle.Reset(settleQuiet)
				waitedForEmpty = false
			}
		case <-settle.C:
			data, err := os.ReadFile(cw.path)
			if err != nil {
				continue // removed: the create that follows is seen
			}
			if len(bytes.TrimSpace(data)) == 0 && !waitedForEmpty {
				waitedForEmpty = true
				settle.Reset(settleEmpty)
				continue
			}
			if bytes.Equal(data, cw.last) {
				continue
			}
			cw.last = data
			gen, err := b.ReloadYAML(data)
			if report != nil {
				report(gen, err)
			}
		}
	}
}
