package provision

import (
	"time"

	"github.com/opencsf/opencsf/csf"
)

// FileChanged says a provisioned file changed and its new version is in
// force: validated and swapped atomically. It is also published for each
// file loaded from the cache at start, with FromCache set.
type FileChanged struct {
	csf.EventHeader
	File      string // e.g. "CUPC/AppDialRules.xml"
	Source    string // tftp://host:port, the HTTP URL, or "cache"
	Size      int64
	SHA256    string // hex
	FromCache bool
}

// RulesReloaded says dial rules changed: File is CUPC/AppDialRules.xml
// (application rules) or CUPC/DirLookupDialRules.xml (directory lookup).
type RulesReloaded struct {
	csf.EventHeader
	File     string
	Rules    int      // number of rules now in force
	Warnings []string // parse warnings of the new rules
}

// FileRejected says a fetched file did not validate; the last good
// version stays in force. Err matches [ErrInvalid], or is a
// [dialrules.ErrMalformed] or [dialrules.ErrInvalidRule] for rules.
type FileRejected struct {
	csf.EventHeader
	File   string
	Source string
	Err    error
}

// FetchFailed says a file could not be fetched from any server; the last
// good version stays in force. Err matches [ErrUnreachable] or
// [ErrNotFound].
type FetchFailed struct {
	csf.EventHeader
	File string
	Err  error
}

// ServerFailedOver says a provisioning server did not answer and the next
// one in the list is tried.
type ServerFailedOver struct {
	csf.EventHeader
	From, To string
	Err      error
}

// CacheUsed says that the servers could not be reached at start and the
// files saved on disk by an earlier run are in force.
type CacheUsed struct {
	csf.EventHeader
	Dir   string
	Files []string
	Saved time.Time // when the newest of them was fetched
	Err   error     // why the servers could not be used
}
