package directory

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound reports that no directory entry has the number.
	ErrNotFound = errors.New("no directory entry has the number")

	// ErrInvalidCallerID reports a caller ID that is not a number, such as
	// "anonymous"; it also matches dialrules.ErrInvalidNumber.
	ErrInvalidCallerID = errors.New("caller ID is not a number")
)

// SearchError reports a directory that could not be asked: unreachable,
// refusing the bind, or failing the search.
type SearchError struct {
	Server string // host:port
	Number string // the number searched for
	Err    error
}

// Error formats the error as "directory: search SERVER for NUMBER: reason".
func (e *SearchError) Error() string {
	return fmt.Sprintf("directory: search %s for %s: %v", e.Server, e.Number, e.Err)
}

// Unwrap returns the reason.
func (e *SearchError) Unwrap() error { return e.Err }
