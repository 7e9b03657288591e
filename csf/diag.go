package csf

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"time"
)

// Snapshot is the state of the framework and each service at one moment:
// what a support engineer asks for first.
type Snapshot struct {
	Time     time.Time         `json:"time"`
	Version  string            `json:"version,omitempty"`
	Running  bool              `json:"running"`
	Apps     []string          `json:"apps"`
	Services []ServiceSnapshot `json:"services"`
	Events   BusStats          `json:"events"`
}

// ServiceSnapshot is one service in a [Snapshot].
type ServiceSnapshot struct {
	Name      string    `json:"name"`
	State     State     `json:"state"`
	Since     time.Time `json:"since"`
	DependsOn []string  `json:"depends_on,omitempty"`
	Restarts  int       `json:"restarts"`
	// LastError is the last lifecycle or health error, scrubbed of secrets.
	LastError string `json:"last_error,omitempty"`
	// Health is nil for a service that is not running.
	Health *Health `json:"health,omitempty"`
}

// Snapshot returns the current diagnostics. It calls each running
// service's Health without holding framework locks.
func (fw *Framework) Snapshot() Snapshot {
	fw.mu.Lock()
	s := Snapshot{Time: fw.cfg.Now(), Version: fw.cfg.Version, Running: fw.started && !fw.closed}
	for a := range fw.apps {
		s.Apps = append(s.Apps, a.app.Name())
	}
	type live struct {
		i   int
		svc Service
	}
	var lives []live
	for _, name := range fw.order {
		e := fw.entries[name]
		ss := ServiceSnapshot{Name: name, State: e.state, Since: e.since, DependsOn: slices.Clone(e.spec.DependsOn), Restarts: e.restarts}
		if e.err != nil {
			ss.LastError = ScrubString(e.err.Error())
		}
		if e.svc != nil {
			lives = append(lives, live{len(s.Services), e.svc})
		}
		s.Services = append(s.Services, ss)
	}
	fw.mu.Unlock()
	sort.Strings(s.Apps)
	for _, l := range lives {
		h := l.svc.Health()
		h.Status = ScrubString(h.Status)
		if h.LastError != nil {
			s.Services[l.i].LastError = ScrubString(h.LastError.Error())
		}
		s.Services[l.i].Health = &h
	}
	s.Events = fw.bus.Stats()
	return s
}

// RecentLog returns the recent log lines kept for problem reports, oldest
// first, already scrubbed of secrets.
func (fw *Framework) RecentLog() []byte { return fw.ring.Bytes() }

// WriteProblemReport writes a zip archive for support: snapshot.json, the
// recent log (log.txt), the effective configuration with secrets redacted
// (config.json) and build facts (about.txt).
func (fw *Framework) WriteProblemReport(w io.Writer) error {
	zw := zip.NewWriter(w)
	add := func(name string, write func(io.Writer) error) error {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: fw.cfg.Now()})
		if err != nil {
			return err
		}
		return write(f)
	}
	jsonOf := func(v any) func(io.Writer) error {
		return func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		}
	}
	fw.mu.Lock()
	settings := fw.settings
	fw.mu.Unlock()
	cfg := map[string]string{}
	if settings != nil {
		cfg = settings.Redacted()
	}
	steps := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"about.txt", func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "OpenCSF problem report\nversion: %s\ngo: %s %s/%s\ntime: %s\n",
				fw.cfg.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, fw.cfg.Now().UTC().Format(time.RFC3339))
			return err
		}},
		{"snapshot.json", jsonOf(fw.Snapshot())},
		{"config.json", jsonOf(cfg)},
		{"log.txt", func(w io.Writer) error { _, err := w.Write(fw.ring.Bytes()); return err }},
	}
	for _, s := range steps {
		if err := add(s.name, s.write); err != nil {
			return fmt.Errorf("csf: problem report %s: %w", s.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("csf: problem report: %w", err)
	}
	return nil
}
