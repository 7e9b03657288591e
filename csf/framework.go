package csf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
)

// Config configures a [Framework]. The zero value is usable.
type Config struct {
	// Logger receives the framework's and every service's log, with
	// secrets scrubbed. nil means discard; the recent lines are kept for
	// problem reports either way.
	Logger *slog.Logger
	// Settings is the effective configuration handed to services and,
	// redacted, to problem reports. nil means none.
	Settings Settings
	// Trust is the trust store services verify servers against. nil means
	// the system roots.
	Trust *Trust
	// StopWhenLastAppDetaches shuts the framework down when the last
	// upper-layer app detaches (CUPC 8 did this; CUCIMOC left CSF running).
	StopWhenLastAppDetaches bool
	// ReportLines is how many recent log lines a problem report keeps; 0
	// means 2000.
	ReportLines int
	// ReportLevel is the lowest level kept for problem reports; the zero
	// value is Info.
	ReportLevel slog.Level
	// Version is written into snapshots and reports.
	Version string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Framework owns the services, the event stream and the upper-layer apps
// attached to it. Its methods are safe for concurrent use.
type Framework struct {
	cfg  Config
	log  *slog.Logger
	ring *lineRing
	bus  *Bus
	pub  *Publisher

	opMu sync.Mutex // serialises Start, Restart, Reload, Shutdown, Close

	mu       sync.Mutex // guards the fields below
	entries  map[string]*entry
	order    []string // registration order
	apps     map[*Attachment]struct{}
	started  bool
	closed   bool
	settings Settings

	done chan struct{} // closed when the framework has stopped

	life       context.Context // the framework's own lifetime, ended by stop
	cancelLife context.CancelFunc
	followers  sync.WaitGroup // Follow goroutines
}

type entry struct {
	spec     ServiceSpec
	svc      Service // nil when not running
	state    State
	err      error
	since    time.Time
	restarts int
}

// New returns a framework; it does no I/O and starts nothing.
func New(cfg Config) *Framework {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReportLines <= 0 {
		cfg.ReportLines = 2000
	}
	next := slog.DiscardHandler
	if cfg.Logger != nil {
		next = cfg.Logger.Handler()
	}
	ring := newLineRing(cfg.ReportLines)
	ringH := slog.NewTextHandler(ring, &slog.HandlerOptions{Level: cfg.ReportLevel})
	fw := &Framework{
		cfg:      cfg,
		log:      slog.New(redactingHandler{next: next, ring: ringH}),
		ring:     ring,
		bus:      newBus(cfg.Now),
		entries:  make(map[string]*entry),
		apps:     make(map[*Attachment]struct{}),
		settings: cfg.Settings,
		done:     make(chan struct{}),
	}
	fw.pub = fw.bus.NewPublisher("csf")
	fw.life, fw.cancelLife = newLife()
	return fw
}

// Logger returns the framework's logger (scrubbing, teed to the report
// ring). Apps may log through it so their lines land in problem reports.
func (fw *Framework) Logger() *slog.Logger { return fw.log }

// Bus returns the event stream.
func (fw *Framework) Bus() *Bus { return fw.bus }

// Subscribe is shorthand for fw.Bus().Subscribe(opts).
func (fw *Framework) Subscribe(opts *SubscribeOptions) *Subscription {
	return fw.bus.Subscribe(opts)
}

// Done is closed when the framework has stopped, by Shutdown, Close or the
// last app detaching under StopWhenLastAppDetaches.
func (fw *Framework) Done() <-chan struct{} { return fw.done }

// Register adds a service. Services start in dependency order, ties in
// registration order.
func (fw *Framework) Register(spec ServiceSpec) error {
	if spec.Name == "" || spec.New == nil {
		return errors.New("csf: register: ServiceSpec needs Name and New")
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.started {
		return fmt.Errorf("register %s: %w", spec.Name, ErrStarted)
	}
	if _, dup := fw.entries[spec.Name]; dup {
		return fmt.Errorf("register %s: %w", spec.Name, ErrDuplicateService)
	}
	spec.DependsOn = slices.Clone(spec.DependsOn)
	spec.Keys = slices.Clone(spec.Keys)
	fw.entries[spec.Name] = &entry{spec: spec, since: fw.cfg.Now()}
	fw.order = append(fw.order, spec.Name)
	return nil
}

// startOrder sorts services so that each comes after its dependencies,
// keeping registration order otherwise.
func (fw *Framework) startOrder() ([]string, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	const (
		unvisited = iota
		visiting
		visited
	)
	mark := make(map[string]int, len(fw.order))
	var out []string
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		e, ok := fw.entries[name]
		if !ok {
			return fmt.Errorf("%w %q (a dependency of %s)", ErrUnknownService, name, path[len(path)-1])
		}
		switch mark[name] {
		case visiting:
			return fmt.Errorf("%w: %v", ErrDependencyCycle, append(path, name))
		case visited:
			return nil
		}
		mark[name] = visiting
		for _, d := range e.spec.DependsOn {
			if err := visit(d, append(path, name)); err != nil {
				return err
			}
		}
		mark[name] = visited
		out = append(out, name)
		return nil
	}
	for _, n := range fw.order {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Start starts every registered service in dependency order. A service
// that fails is closed and marked failed, and services depending on it are
// not started, but the others are: Start returns the failures joined (each
// a *ServiceError) while the framework keeps running. Calling Start again
// retries the services that are not running.
func (fw *Framework) Start(ctx context.Context) error {
	fw.opMu.Lock()
	defer fw.opMu.Unlock()
	order, err := fw.startOrder()
	if err != nil {
		return err
	}
	fw.mu.Lock()
	if fw.closed {
		fw.mu.Unlock()
		return fmt.Errorf("csf: start: %w", net.ErrClosed)
	}
	first := !fw.started
	fw.started = true
	fw.mu.Unlock()
	if first {
		fw.followSettingsEvents()
	}
	fw.log.Info("framework starting", "services", len(order))
	var errs []error
	for _, name := range order {
		if _, running := fw.Service(name); running {
			continue // a second Start leaves running services alone
		}
		if err := fw.startService(ctx, name, "start"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// startService makes and starts one service. The caller holds opMu.
func (fw *Framework) startService(ctx context.Context, name, op string) error {
	fw.mu.Lock()
	e := fw.entries[name]
	for _, d := range e.spec.DependsOn {
		if fw.entries[d].state != StateRunning {
			err := fmt.Errorf("%w: %s", ErrDependencyFailed, d)
			fw.setStateLocked(e, StateFailed, err)
			fw.mu.Unlock()
			return &ServiceError{Service: name, Op: op, Err: err}
		}
	}
	fw.setStateLocked(e, StateStarting, nil)
	env := Env{
		Logger:   fw.log.With("service", name),
		Events:   fw.bus.NewPublisher(name),
		Settings: fw.settings,
		Callers:  frameworkCallers{fw},
	}
	if fw.cfg.Trust != nil {
		env.Roots = fw.cfg.Trust.Pool()
	}
	fw.mu.Unlock()

	svc, err := e.spec.New(env)
	if err == nil {
		err = svc.Start(ctx)
		if err != nil {
			// A failed Start still gets Close, so half-made state is freed.
			if cerr := svc.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
				fw.log.Warn("close after failed start", "service", name, "err", cerr)
			}
		}
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if err != nil {
		fw.setStateLocked(e, StateFailed, err)
		fw.log.Error("service failed to start", "service", name, "err", err)
		return &ServiceError{Service: name, Op: op, Err: err}
	}
	e.svc = svc
	fw.setStateLocked(e, StateRunning, nil)
	fw.log.Info("service running", "service", name)
	return nil
}

// setStateLocked records a transition and publishes it. fw.mu is held;
// publishing never blocks, so that is safe.
func (fw *Framework) setStateLocked(e *entry, s State, err error) {
	e.state, e.since = s, fw.cfg.Now()
	if err != nil {
		e.err = err
	}
	Publish(fw.pub, ServiceStateChanged{Name: e.spec.Name, State: s, Err: err})
}

// stopService shuts one service down (Close when ctx is nil or Shutdown
// fails). The caller holds opMu.
func (fw *Framework) stopService(ctx context.Context, name string) error {
	fw.mu.Lock()
	e := fw.entries[name]
	svc := e.svc
	if svc == nil {
		fw.mu.Unlock()
		return nil
	}
	fw.setStateLocked(e, StateStopping, nil)
	fw.mu.Unlock()

	var err error
	if ctx != nil {
		if err = svc.Shutdown(ctx); err != nil {
			err = &ServiceError{Service: name, Op: "shutdown", Err: err}
			if cerr := svc.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
				err = errors.Join(err, &ServiceError{Service: name, Op: "close", Err: cerr})
			}
		}
	} else if cerr := svc.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = &ServiceError{Service: name, Op: "close", Err: cerr}
	}
	fw.mu.Lock()
	e.svc = nil
	fw.setStateLocked(e, StateStopped, nil)
	fw.mu.Unlock()
	return err
}

// Restart shuts one service down (within ctx) and starts a fresh instance
// with the current settings; the other services keep running. It also
// starts a service that failed or is stopped.
func (fw *Framework) Restart(ctx context.Context, name string) error {
	fw.opMu.Lock()
	defer fw.opMu.Unlock()
	fw.mu.Lock()
	e, ok := fw.entries[name]
	closed := fw.closed
	fw.mu.Unlock()
	if !ok {
		return fmt.Errorf("csf: restart %q: %w", name, ErrUnknownService)
	}
	if closed {
		return fmt.Errorf("csf: restart %q: %w", name, net.ErrClosed)
	}
	stopErr := fw.stopService(ctx, name)
	fw.mu.Lock()
	e.restarts++
	fw.mu.Unlock()
	if err := fw.startService(ctx, name, "restart"); err != nil {
		return errors.Join(stopErr, err)
	}
	return stopErr
}

// Service returns the running instance of the named service, for apps to
// type-assert to the service's own type. After a restart it is a new
// instance, so look it up again rather than keeping it.
func (fw *Framework) Service(name string) (Service, bool) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	e, ok := fw.entries[name]
	if !ok || e.svc == nil {
		return nil, false
	}
	return e.svc, true
}

// ApplySettings installs new effective settings after a configuration
// change and tells the services: each running service reading one of the
// changed keys is reconfigured in place (see [Reconfigurer]) or restarted.
// A [ConfigReloaded] event is published first. A non-nil loadErr reports
// sources that were rejected (their previous values stay in force); it is
// published as its own ConfigReloaded event. A nil s changes nothing.
func (fw *Framework) ApplySettings(ctx context.Context, source string, s Settings, changed []string, loadErr error) error {
	if loadErr != nil {
		Publish(fw.pub, ConfigReloaded{Source: source, Err: loadErr})
		fw.log.Warn("configuration rejected; previous configuration stays in force", "source", source, "err", loadErr)
	}
	if s == nil || (loadErr != nil && len(changed) == 0) {
		return nil
	}
	fw.opMu.Lock()
	defer fw.opMu.Unlock()
	fw.mu.Lock()
	fw.settings = s
	var affected []string
	for _, name := range fw.order {
		e := fw.entries[name]
		if e.svc != nil && slices.ContainsFunc(e.spec.Keys, func(k string) bool { return slices.Contains(changed, k) }) {
			affected = append(affected, name)
		}
	}
	fw.mu.Unlock()
	Publish(fw.pub, ConfigReloaded{Source: source, Changed: slices.Clone(changed)})
	fw.log.Info("configuration reloaded", "source", source, "changed", changed, "services", affected)

	var errs []error
	for _, name := range affected {
		svc, ok := fw.Service(name)
		if !ok {
			continue
		}
		if r, ok := svc.(Reconfigurer); ok {
			if err := r.Reconfigure(ctx, s, changed); err != nil {
				errs = append(errs, &ServiceError{Service: name, Op: "reconfigure", Err: err})
			}
			continue
		}
		stopErr := fw.stopService(ctx, name)
		fw.mu.Lock()
		fw.entries[name].restarts++
		fw.mu.Unlock()
		errs = append(errs, stopErr, fw.startService(ctx, name, "restart"))
	}
	return errors.Join(errs...)
}

// Shutdown stops the services in reverse start order, each saying goodbye
// within ctx, then ends every subscription. A second call returns an error
// matching net.ErrClosed.
func (fw *Framework) Shutdown(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	return fw.stop(ctx)
}

// Close stops every service at once and ends every subscription. A second
// call returns an error matching net.ErrClosed.
func (fw *Framework) Close() error { return fw.stop(nil) }

func (fw *Framework) stop(ctx context.Context) error {
	fw.endFollowers()
	fw.opMu.Lock()
	defer fw.opMu.Unlock()
	fw.mu.Lock()
	if fw.closed {
		fw.mu.Unlock()
		return fmt.Errorf("csf: %w", net.ErrClosed)
	}
	fw.closed = true
	fw.mu.Unlock()
	order, err := fw.startOrder()
	if err != nil { // unstartable graph: nothing ran
		order = nil
	}
	var errs []error
	for _, name := range slices.Backward(order) {
		if err := fw.stopService(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	fw.log.Info("framework stopped")
	fw.bus.close()
	close(fw.done)
	return errors.Join(errs...)
}
