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
var sipgoLog = &sipgoRouter{byAddr: map[string]*Phone{}, live: map[*Phone]struct{}{}}

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
}

func (r *sipgoRouter) add(p *Phone, addr string) {
	r.mu.Lock()
	r.byAddr[addr] = p
	r.live[p] = struct{}{}
	r.mu.Unlock()
}

func (r *sipgoRouter) remove(p *Phone) {
	r.mu.Lock()
	for a, q := range r.byAddr {
		if q == p {
			delete(r.byAddr, a)
		}
	}
	delete(r.live, p)
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
	seen := map[slog.Handler]bool{}
	var out []*slog.Logger
	for p := range r.live {
		if h := p.cfg.Logger.Handler(); !seen[h] {
			seen[h] = true
			out = append(out, p.log)
		}
	}
	return out
}

// Enabled says yes: the level is decided by each target's handler.
func (r *sipgoRouter) Enabled(context.Context, slog.Level) bool { return true }

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

func (w *sipgoRouterWith) Enabled(context.Context, slog.Level) bool { return true }

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
