package csf

import (
	"errors"
	"fmt"
)

var (
	// ErrUnknownService is returned for a service name that was never
	// registered.
	ErrUnknownService = errors.New("csf: unknown service")
	// ErrDuplicateService is returned when a name is registered twice.
	ErrDuplicateService = errors.New("csf: service already registered")
	// ErrDependencyCycle is returned by Start when services depend on each
	// other in a loop.
	ErrDependencyCycle = errors.New("csf: dependency cycle")
	// ErrDependencyFailed is the health error of a service that was not
	// started because a service it depends on is not running.
	ErrDependencyFailed = errors.New("csf: dependency not running")
	// ErrStarted is returned by Register after Start.
	ErrStarted = errors.New("csf: framework already started")
	// ErrNotAttached is returned by Detach on an attachment already detached.
	ErrNotAttached = errors.New("csf: app not attached")
)

// ServiceError is the failure of one service in a lifecycle operation.
type ServiceError struct {
	Service string
	Op      string // "start", "restart", "shutdown", "close", "reconfigure"
	Err     error
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("csf: %s %s: %v", e.Op, e.Service, e.Err)
}

func (e *ServiceError) Unwrap() error { return e.Err }
