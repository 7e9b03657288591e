package softphone

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/opencsf/opencsf/csf"
)

// callerLookupTimeout bounds the directory lookup of an incoming call; the
// phone has already sent 180 Ringing, so only the event waits.
const callerLookupTimeout = time.Second

// callerID is the user part of a SIP or tel URI: the number (or name) the
// caller dialled from.
func callerID(uri string) string {
	s := uri
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	for _, scheme := range []string{"sips:", "sip:", "tel:"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			s = s[len(scheme):]
			break
		}
	}
	if i := strings.IndexAny(s, "@;?"); i >= 0 {
		s = s[:i]
	}
	return s
}

func (p *Phone) resolveCaller(remote string) csf.Person {
	id := callerID(remote)
	who := csf.Person{CallerID: id}
	if p.cfg.Callers == nil || id == "" {
		return who
	}
	ctx, cancel := context.WithTimeout(p.ctx, callerLookupTimeout)
	defer cancel()
	found, err := p.cfg.Callers.LookupCaller(ctx, id)
	if err != nil {
		if !errors.Is(err, csf.ErrCallerUnknown) {
			p.log.Warn("caller lookup failed", "caller_id", id, "err", err)
		}
		return who
	}
	found.CallerID = id
	return found
}
