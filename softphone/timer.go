package softphone

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// ErrSessionExpired ends a call whose session timer ran out: the far end,
// responsible for refreshing it, stopped doing so (RFC 4028 section 10).
var ErrSessionExpired = errors.New("softphone: session expired")

// minSE is the smallest session interval we accept from others (RFC 4028
// section 4 recommends 90 s).
const minSE = 90 * time.Second

// sessionExpires reads "Session-Expires: 1800;refresher=uac".
func sessionExpires(h sip.Header) (time.Duration, string, bool) {
	if h == nil {
		return 0, "", false
	}
	v, params, _ := strings.Cut(h.Value(), ";")
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0, "", false
	}
	refresher := ""
	for p := range strings.SplitSeq(params, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "refresher") {
			refresher = strings.ToLower(strings.TrimSpace(val))
		}
	}
	return time.Duration(n) * time.Second, refresher, true
}

func (p *Phone) sessionInterval() time.Duration {
	if p.cfg.SessionExpires < 0 {
		return 0
	}
	if p.cfg.SessionExpires == 0 {
		return 30 * time.Minute
	}
	return p.cfg.SessionExpires
}

// minSessionExpires is the smallest interval we accept in an INVITE.
func (p *Phone) minSessionExpires() time.Duration {
	return min(minSE, p.sessionInterval())
}

// armSessionTimer (re)starts the call's session timer after a successful
// INVITE or re-INVITE: we refresh at half the interval when we are the
// refresher, else we hang up when the interval nearly passed without a
// refresh from the far end.
func (c *Call) armSessionTimer(interval time.Duration, weRefresh bool) {
	if interval <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == CallEnded || c.ending {
		return
	}
	if c.sessionTimer != nil {
		c.sessionTimer.Stop()
	}
	c.seInterval, c.seRefresher = interval, weRefresh
	wait := interval / 2
	if !weRefresh {
		wait = interval - min(32*time.Second, interval/3)
	}
	c.sessionTimer = time.AfterFunc(wait, c.sessionTimerFired)
}

func (c *Call) stopSessionTimer() {
	c.mu.Lock()
	if c.sessionTimer != nil {
		c.sessionTimer.Stop()
	}
	c.mu.Unlock()
}

// sessionTimerFired runs on the timer's goroutine, counted in the phone's
// wait group so that Close waits for it.
func (c *Call) sessionTimerFired() {
	p := c.p
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.work.Add(1)
	p.mu.Unlock()
	defer p.work.Done()
	c.mu.Lock()
	interval, weRefresh := c.seInterval, c.seRefresher
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if !weRefresh {
		// End first: the far end is likely gone and the BYE may go
		// unanswered for a while.
		p.log.Warn("session expired", logCallID, c.id)
		c.end(ErrSessionExpired, false)
		_ = c.sendBye(ctx)
		return
	}
	if err := c.Refresh(ctx); err != nil {
		p.log.Warn("session refresh failed", logCallID, c.id, "err", err)
		var se *StatusError
		if errors.As(err, &se) && (se.Code == 481 || se.Code == 408) || errors.Is(err, ErrTimeout) {
			c.end(ErrSessionExpired, false)
			_ = c.sendBye(ctx)
			return
		}
		c.armSessionTimer(interval, true)
	}
}

// SessionRefreshes returns how many session refreshes (RFC 4028) we sent
// on this call and the far end accepted, by the timer or [Call.Refresh].
func (c *Call) SessionRefreshes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refreshes
}
