package provision

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalid reports a provisioned file that does not validate: not
	// XML, the wrong root element, a bad value. Every [*FileError] from
	// parsing matches it. The last good version stays in force.
	ErrInvalid = errors.New("invalid provisioned file")

	// ErrNoServer reports a [Config] with neither TFTP servers nor an HTTP
	// file server.
	ErrNoServer = errors.New("no provisioning server configured")

	// ErrUnreachable reports that no provisioning server answered; the
	// errors of each are joined under it.
	ErrUnreachable = errors.New("no provisioning server answered")

	// ErrNotFound reports a file that the server says it does not have.
	ErrNotFound = errors.New("file not found on the server")
)

// FileError reports a problem with one provisioned file: which file, the
// element or attribute at fault when known (a slash path such as
// "sipProfile/sipLines/line[2]/name"), and why.
type FileError struct {
	File  string // file name as on the server, e.g. CUPC/AppDialRules.xml
	Field string // element path at fault; empty when not tied to one
	Err   error
}

// Error formats the error as "provision: FILE: FIELD: reason".
func (e *FileError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("provision: %s: %s: %v", e.File, e.Field, e.Err)
	}
	return fmt.Sprintf("provision: %s: %v", e.File, e.Err)
}

// Unwrap returns the reason.
func (e *FileError) Unwrap() error { return e.Err }

// invalid builds a parse error matching ErrInvalid.
func invalid(file, field string, err error) error {
	return &FileError{File: file, Field: field, Err: fmt.Errorf("%w: %w", ErrInvalid, err)}
}
