package tftp

import (
	"errors"
	"fmt"
)

var (
	// ErrTimeout reports a server that stopped answering, or never
	// answered: the last packet was sent [Client.Retries]+1 times without
	// a reply. A server that is down looks like this over UDP.
	ErrTimeout = errors.New("timed out")

	// ErrNotFound matches an [*Error] with code [CodeNotFound].
	ErrNotFound = errors.New("file not found")

	// ErrProtocol reports a server that broke the protocol: a packet that
	// does not decode, a DATA block larger than the negotiated block size,
	// an option that was not asked for or out of range, an unexpected
	// opcode.
	ErrProtocol = errors.New("protocol violation")

	// ErrTruncated reports a transfer that ended with fewer bytes than the
	// size the server announced with the tsize option (RFC 2349).
	ErrTruncated = errors.New("truncated transfer")

	// ErrTooLarge reports a file larger than [Client.MaxSize], announced or
	// received; the transfer is aborted.
	ErrTooLarge = errors.New("file too large")
)

// Error is an ERROR packet received from the server (RFC 1350 section 5).
// It matches [ErrNotFound] with [errors.Is] when Code is [CodeNotFound].
type Error struct {
	Code    int    // one of the Code constants, or another value the server sent
	Message string // the server's text, possibly empty
}

// Error formats the error as "server error CODE: MESSAGE".
func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("server error %d", e.Code)
	}
	return fmt.Sprintf("server error %d: %s", e.Code, e.Message)
}

// Is reports whether target is [ErrNotFound] and the code says so.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Code == CodeNotFound
}

// TransferError wraps every error of [Client.Get] and [Client.Fetch] with
// the server and file, and how far the transfer got.
type TransferError struct {
	Server   string // host:port asked
	File     string // file name asked for
	Received int64  // bytes received before the failure
	Err      error  // the cause: an [*Error], one of the sentinels, a context or network error
}

// Error formats the error as "tftp: get FILE from SERVER: …".
func (e *TransferError) Error() string {
	if e.Received > 0 {
		return fmt.Sprintf("tftp: get %s from %s: after %d bytes: %v", e.File, e.Server, e.Received, e.Err)
	}
	return fmt.Sprintf("tftp: get %s from %s: %v", e.File, e.Server, e.Err)
}

// Unwrap returns the cause.
func (e *TransferError) Unwrap() error { return e.Err }
