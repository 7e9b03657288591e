package csf

import (
	"context"
	"errors"
	"fmt"
)

// Person is who a caller ID belongs to, as a directory resolved it.
type Person struct {
	// CallerID is the number as it arrived.
	CallerID string `json:"caller_id"`
	Name     string `json:"name,omitempty"`
	JID      string `json:"jid,omitempty"`
	Mailbox  string `json:"mailbox,omitempty"`
}

// CallerDirectory resolves caller IDs to people. The directory service
// implements it; the soft phone and voicemail use it through
// [Env.Callers] to put names on incoming calls and messages.
type CallerDirectory interface {
	// LookupCaller resolves callerID. It returns an error matching
	// ErrCallerUnknown when nobody has that number.
	LookupCaller(ctx context.Context, callerID string) (Person, error)
}

// ErrCallerUnknown is returned by a CallerDirectory that knows nobody with
// the number, and by [Env.Callers] when no directory service is running.
var ErrCallerUnknown = errors.New("csf: caller not in the directory")

// frameworkCallers forwards to whichever running service is a
// CallerDirectory at the time of the call, so that restarting the
// directory never leaves a consumer with a stale one.
type frameworkCallers struct{ fw *Framework }

func (c frameworkCallers) LookupCaller(ctx context.Context, callerID string) (Person, error) {
	c.fw.mu.Lock()
	var dir CallerDirectory
	for _, name := range c.fw.order {
		if d, ok := c.fw.entries[name].svc.(CallerDirectory); ok {
			dir = d
			break
		}
	}
	c.fw.mu.Unlock()
	if dir == nil {
		return Person{CallerID: callerID}, fmt.Errorf("lookup %q: no directory service running: %w", callerID, ErrCallerUnknown)
	}
	return dir.LookupCaller(ctx, callerID)
}
