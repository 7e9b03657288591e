package csf

import (
	"context"
	"crypto/x509"
	"log/slog"
	"time"
)

// State is a service's lifecycle state as the framework sees it.
type State int

// Service states.
const (
	StateStopped  State = iota // registered, not started (or closed)
	StateStarting              // Start in progress
	StateRunning               // Start returned nil
	StateFailed                // Start failed, or the service reported itself broken
	StateStopping              // Shutdown or Close in progress
)

var stateNames = [...]string{"stopped", "starting", "running", "failed", "stopping"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// MarshalText makes states readable in JSON snapshots.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Service is what the framework runs: presence, IM, soft phone, voicemail…
// A Service instance is started at most once; the framework makes a fresh
// one through [ServiceSpec.New] to restart it.
type Service interface {
	// Start connects and returns when the service is ready or ctx ends.
	// ctx bounds start-up only; background work runs under a context the
	// service owns and cancels in Close.
	Start(ctx context.Context) error
	// Shutdown says goodbye properly (unregister, unavailable presence,
	// logout) within ctx, then frees everything.
	Shutdown(ctx context.Context) error
	// Close stops at once and frees everything. It is also called after a
	// failed Start.
	Close() error
	// Health reports the service's current condition. It must not block.
	Health() Health
}

// Health is a service's self-report for diagnostics.
type Health struct {
	// Healthy is false when the service is degraded (disconnected and
	// retrying, say) even though it runs.
	Healthy bool `json:"healthy"`
	// Status is a short human description ("registered", "reconnecting in 4s").
	Status string `json:"status,omitempty"`
	// Server is the peer the service talks to (host:port or URL).
	Server string `json:"server,omitempty"`
	// TLS summarises the server's certificate, nil without TLS.
	TLS *CertSummary `json:"tls,omitempty"`
	// LastError is the most recent error, nil when none.
	LastError error `json:"-"`
	// Since is when the service entered its current condition.
	Since time.Time `json:"since,omitzero"`
	// Counters are service-specific figures (messages sent, reconnects…).
	Counters map[string]int64 `json:"counters,omitempty"`
}

// Env is what a service gets from the framework when it is made.
type Env struct {
	// Logger is the framework's logger with service=<name> added.
	Logger *slog.Logger
	// Events publishes on the framework's event stream for this service.
	Events *Publisher
	// Settings is the effective configuration at the time the service is
	// made, nil when the framework has none.
	Settings Settings
	// Roots is the trust store from the configuration, nil for the system
	// roots.
	Roots *x509.CertPool
	// Callers resolves caller IDs through the directory service running
	// in the framework, if any; never nil.
	Callers CallerDirectory
}

// ServiceSpec registers a service with the framework.
type ServiceSpec struct {
	// Name is unique within the framework; required.
	Name string
	// DependsOn names services that must be running before this one starts
	// (a soft phone's directory lookup, say). A service whose dependency
	// failed is not started; its health says why.
	DependsOn []string
	// Keys are the configuration keys the service reads. When one of them
	// changes the framework restarts the service, unless it implements
	// [Reconfigurer].
	Keys []string
	// New makes a fresh, unstarted instance; required. It must not do I/O.
	New func(env Env) (Service, error)
}

// Reconfigurer is implemented by services that can apply changed settings
// without a restart.
type Reconfigurer interface {
	Reconfigure(ctx context.Context, s Settings, changed []string) error
}

// Settings is the effective configuration as the framework hands it to
// services and reports. Package config's snapshot satisfies it.
type Settings interface {
	// Redacted returns every effective key and value with secrets replaced
	// by "[redacted]".
	Redacted() map[string]string
}
