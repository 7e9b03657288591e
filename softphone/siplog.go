package softphone

import (
	"context"
	"log/slog"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// sipgo takes a logger for each of its layers, and we give each the
// phone's, but a few lines of its transports (connection reference
// counting: "TCP ref went negative", "UDP reference decrement") and of its
// lazy header parsing go through its package-level logger, which falls
// back to slog.Default. Our loggers are injected, never global, so that
// package-level logger is set once to sipgoRouter, which hands each record
// to the phone whose SIP socket the record names, or, when it names none,
// to every live phone's logger (each distinct Config.Logger once).
var sipgoLog = &sipgoRouter{byAddr: map[string]*Phone{}, live: map[*Phone]struct{}{}, loggers: map[*slog.Logger]int{}}

var installSipgoLog sync.Once

// routeSipgoLog installs the router as sipgo's package logger. It runs
// from New, before this package makes any sipgo object: sipgo reads the
// variable without synchronisation, so it must be set before any of its
// goroutines run (sync.Once orders it before every later New).
func routeSipgoLog() {
	installSipgoLog.Do(func() { sip.SetDefaultLogger(slog.New(sipgoLog)) })
}

// sipgoRouter is the slog.Handler behind sipgo's package logger.
type sipgoRouter struct {
	mu     sync.Mutex
	byAddr map[string]*Phone // local SIP address (ip:port) → phone
	live   map[*Phone]struct{}
	// loggers counts the live phones by Config.Logger: a fleet of phones
	// usually shares one, and Enabled asks each once. (By *slog.Logger, not
	// by handler: a handler need not be comparable.)
	loggers map[*slog.Logger]int
}

func (r *sipgoRouter) add(p *Phone, addr string) {
	r.mu.Lock()
	r.byAddr[addr] = p
	if _, ok := r.live[p]; !ok {
		r.live[p] = struct{}{}
		r.loggers[p.cfg.Logger]++
	}
	r.mu.Unlock()
}

func (r *sipgoRouter) remove(p *Phone) {
	r.mu.Lock()
	for a, q := range r.byAddr {
		if q == p {
			delete(r.byAddr, a)
		}
	}
	if _, ok := r.live[p]; ok {
		delete(r.live, p)
		if r.loggers[p.cfg.Logger]--; r.loggers[p.cfg.Logger] == 0 {
			delete(r.loggers, p.cfg.Logger)
		}
	}
	r.mu.Unlock()
}

// targets returns the loggers a record goes to: the phone at the local
// address the record names ("ip" for TCP and TLS, "src" for UDP), else
// each distinct Config.Logger of the live phones.
func (r *sipgoRouter) targets(addrs []string) []*slog.Logger {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range addrs {
		if p, ok := r.byAddr[a]; ok {
			return []*slog.Logger{p.log}
		}
	}
	seen := map[*slog.Logger]bool{}
	var out []*slog.Logger
	for p := range r.live {
		if !seen[p.cfg.Logger] {
			seen[p.cfg.Logger] = true
			out = append(out, p.log)
		}
	}
	return out
}

// Enabled reports whether any live phone logs at level, so that sipgo's
// per-message debug lines cost nothing when no phone wants them.
func (r *sipgoRouter) Enabled(ctx context.Context, level slog.Level) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for l := range r.loggers {
		if l.Enabled(ctx, level) {
			return true
		}
	}
	return false
}

func (r *sipgoRouter) Handle(ctx context.Context, rec slog.Record) error {
	return routedRecord(ctx, r, nil, rec)
}

func (r *sipgoRouter) WithAttrs(as []slog.Attr) slog.Handler {
	return &sipgoRouterWith{r: r, attrs: as}
}

func (r *sipgoRouter) WithGroup(string) slog.Handler { return r }

// sipgoRouterWith carries the attributes sipgo's With adds ("caller").
type sipgoRouterWith struct {
	r     *sipgoRouter
	attrs []slog.Attr
}

func (w *sipgoRouterWith) Enabled(ctx context.Context, level slog.Level) bool {
	return w.r.Enabled(ctx, level)
}

func (w *sipgoRouterWith) Handle(ctx context.Context, rec slog.Record) error {
	return routedRecord(ctx, w.r, w.attrs, rec)
}

func (w *sipgoRouterWith) WithAttrs(as []slog.Attr) slog.Handler {
	return &sipgoRouterWith{r: w.r, attrs: append(append([]slog.Attr(nil), w.attrs...), as...)}
}

func (w *sipgoRouterWith) WithGroup(string) slog.Handler { return w }

func routedRecord(ctx context.Context, r *sipgoRouter, attrs []slog.Attr, rec slog.Record) error {
	var addrs []string
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "ip" || a.Key == "src" {
			addrs = append(addrs, a.Value.String())
		}
		return true
	})
	for _, l := range r.targets(addrs) {
		h := l.Handler()
		if !h.Enabled(ctx, rec.Level) {
			continue
		}
		out := rec.Clone()
		out.AddAttrs(slog.String("from", "sipgo"))
		out.AddAttrs(attrs...)
		_ = h.Handle(ctx, out)
	}
	return nil
}
