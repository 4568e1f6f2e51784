package config

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// LoadFile reads, parses and validates a config file.
func LoadFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Load(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Watch reloads a balancer from a config file each time it is saved.
type Watch struct {
	w    *fsnotify.Watcher
	path string
	last []byte
	log  *slog.Logger
}

// A Reloader applies a document; *balancer.Balancer is one.
type Reloader interface {
	ReloadYAML(data []byte) (generation uint64, err error)
}

// WatchFile starts watching path; saves from now on are seen. It
// watches the directory, so editors that replace the file are seen too.
// The watcher's own errors go to log (nil: slog.Default()).
func WatchFile(path string, log *slog.Logger) (*Watch, error) {
	if log == nil {
		log = slog.Default()
	}
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
	return &Watch{w: w, path: path, last: last, log: log}, nil
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

// Run hot-reloads r on every save until ctx ends, then releases the watch.
// Each outcome goes to report (if not nil) as well as to the event bus; a
// bad edit leaves the running config in place. The final content of a
// burst of writes is applied once.
func (cw *Watch) Run(ctx context.Context, r Reloader, report func(gen uint64, err error)) {
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
			cw.log.Warn("config watch", "path", cw.path, "err", err)
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
			gen, err := r.ReloadYAML(data)
			if report != nil {
				report(gen, err)
			}
		}
	}
}
