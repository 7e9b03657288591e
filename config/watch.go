package config

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchOptions tunes [Store.Watch]. A nil *WatchOptions means the zero
// value.
type WatchOptions struct {
	// Debounce is how long a file must stay quiet after a change before it
	// is reloaded, so that an editor's several writes cause one reload.
	// Zero means 100ms.
	Debounce time.Duration
}

// Change reports a reload by a [Watcher].
type Change struct {
	// Changed holds the canonical names of the keys whose effective value
	// changed, sorted.
	Changed []string

	// Err is nil when every watched file loaded on its latest reload.
	// Otherwise it holds the error of each file that failed (an [*Error]
	// naming the file and line; several are joined with [errors.Join]), for
	// which the store keeps the last good values. A Change with a nil Err
	// and no Changed keys reports that a failing file loads again.
	Err error

	// Warnings are those of the reloaded files, such as unknown keys.
	Warnings []Warning

	// Snapshot is the effective configuration after the reload.
	Snapshot *Snapshot
}

// Watcher reloads the files loaded into a [Store] when they change on disk
// and reports each reload that changed a value or failed. Create one with
// [Store.Watch]; stop it with [Watcher.Close].
type Watcher struct {
	store    *Store
	fw       *fsnotify.Watcher
	files    []loadedFile // watched files, in load order
	debounce time.Duration
	changes  chan Change
	done     chan struct{} // closed by Close to stop run
	exited   chan struct{} // closed when run returns

	mu     sync.Mutex // guards closed
	closed bool
}

// Watch starts watching the files loaded so far with [Store.LoadFile];
// files loaded later are not watched. It watches their directories, since
// editors often replace a file rather than write it, and after a change
// (debounced) reloads the file into its layers. A file that fails to load
// leaves the last good values in force and is reported in [Change.Err];
// a later good version is picked up as usual.
//
// Watch starts one goroutine, which [Watcher.Close] stops.
func (s *Store) Watch(opts *WatchOptions) (*Watcher, error) {
	var o WatchOptions
	if opts != nil {
		o = *opts
	}
	if o.Debounce <= 0 {
		o.Debounce = 100 * time.Millisecond
	}
	s.mu.Lock()
	files := slices.Clone(s.files)
	s.mu.Unlock()

	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("config: watch: %w", err)
	}
	dirs := map[string]bool{}
	for _, f := range files {
		d := filepath.Dir(f.abs)
		if dirs[d] {
			continue
		}
		dirs[d] = true
		if err := fw.Add(d); err != nil {
			_ = fw.Close()
			return nil, fmt.Errorf("config: watch %s: %w", d, err)
		}
	}
	w := &Watcher{
		store:    s,
		fw:       fw,
		files:    files,
		debounce: o.Debounce,
		changes:  make(chan Change),
		done:     make(chan struct{}),
		exited:   make(chan struct{}),
	}
	go w.run()
	return w, nil
}

// Changes returns the channel on which reloads are reported. Reports that
// the receiver has not yet taken are merged (keys united, latest error and
// snapshot kept), so the watcher never blocks on a slow receiver and never
// drops a changed key. The channel is closed after [Watcher.Close].
func (w *Watcher) Changes() <-chan Change { return w.changes }

// Close stops watching and waits for the watcher's goroutine to end. A
// second call returns an error matching [net.ErrClosed].
func (w *Watcher) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return fmt.Errorf("config: watcher already closed: %w", net.ErrClosed)
	}
	w.closed = true
	w.mu.Unlock()
	close(w.done)
	<-w.exited
	if err := w.fw.Close(); err != nil {
		return fmt.Errorf("config: close watcher: %w", err)
	}
	return nil
}

func (w *Watcher) run() {
	defer close(w.exited)
	defer close(w.changes)
	timer := time.NewTimer(w.debounce)
	timer.Stop()
	defer timer.Stop()
	dirty := map[string]bool{}
	failing := map[string]error{} // files whose latest reload failed
	var pending *Change
	events, errs := w.fw.Events, w.fw.Errors
	for {
		var out chan Change
		var next Change
		if pending != nil {
			out, next = w.changes, *pending
		}
		select {
		case <-w.done:
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Rename) && !ev.Has(fsnotify.Remove) {
				continue
			}
			name := filepath.Clean(ev.Name)
			if slices.ContainsFunc(w.files, func(f loadedFile) bool { return f.abs == name }) {
				dirty[name] = true
				timer.Reset(w.debounce)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			pending = mergeChange(pending, Change{
				Err:      errors.Join(w.failures(failing), fmt.Errorf("config: watch: %w", err)),
				Snapshot: w.store.Effective(),
			})
		case <-timer.C:
			var c Change
			report := false
			for _, f := range w.files {
				if !dirty[f.abs] {
					continue
				}
				changed, ws, err := w.store.reload(f)
				c.Changed = append(c.Changed, changed...)
				c.Warnings = append(c.Warnings, ws...)
				_, wasFailing := failing[f.abs]
				if err != nil {
					failing[f.abs] = err
				} else {
					delete(failing, f.abs)
				}
				report = report || len(changed) > 0 || err != nil || wasFailing
			}
			clear(dirty)
			if report {
				c.Err = w.failures(failing)
				c.Snapshot = w.store.Effective()
				pending = mergeChange(pending, c)
			}
		case out <- next:
			pending = nil
		}
	}
}

// failures joins the errors of the files that currently fail to load, in
// load order; nil when none does.
func (w *Watcher) failures(failing map[string]error) error {
	var errs []error
	for _, f := range w.files {
		if err, ok := failing[f.abs]; ok {
			errs = append(errs, err)
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// mergeChange folds c into an undelivered change.
func mergeChange(p *Change, c Change) *Change {
	if p == nil {
		return &c
	}
	m := &Change{Err: c.Err, Snapshot: c.Snapshot}
	m.Changed = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(p.Changed), c.Changed...))))
	m.Warnings = append(slices.Clone(p.Warnings), c.Warnings...)
	return m
}

// reload reads a loaded file again and returns the keys whose effective
// value changed. On error the store is unchanged.
func (s *Store) reload(f loadedFile) (changed []string, ws []Warning, err error) {
	ws, ps, err := readFile(f.path, f.opts)
	if err != nil {
		return nil, ws, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.snapLocked()
	for _, p := range ps {
		s.putLocked(p)
	}
	return before.Changed(s.snapLocked()), ws, nil
}
