// Package backoff times reconnection attempts: exponential growth with
// jitter, so that a fleet of clients does not reconnect in lock step after
// a server restart (the shape of RFC 5626 section 4.5's flow recovery).
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy describes the delays. The zero value means 1 s base, 2 min cap,
// jitter of 50 %.
type Policy struct {
	// Base is the first delay; 0 means one second.
	Base time.Duration
	// Max caps the delay; 0 means two minutes.
	Max time.Duration
	// Jitter is the fraction of each delay that is randomised: the delay is
	// drawn uniformly from [(1-Jitter)×d, d]. 0 means 0.5; negative means
	// none (for tests).
	Jitter float64
}

// Delay returns the wait before retry number attempt (0 for the first
// retry).
func (p Policy) Delay(attempt int) time.Duration {
	base, maxD, jitter := p.Base, p.Max, p.Jitter
	if base <= 0 {
		base = time.Second
	}
	if maxD <= 0 {
		maxD = 2 * time.Minute
	}
	if jitter == 0 {
		jitter = 0.5
	}
	d := base
	for i := 0; i < attempt && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	if jitter > 0 {
		jitter = min(jitter, 1)
		lo := float64(d) * (1 - jitter)
		d = time.Duration(lo + rand.Float64()*(float64(d)-lo))
	}
	return d
}

// Wait sleeps for Delay(attempt) or until ctx ends, returning ctx's error
// in that case.
func (p Policy) Wait(ctx context.Context, attempt int) error {
	t := time.NewTimer(p.Delay(attempt))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
