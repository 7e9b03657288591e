package softphone

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// One offer at a time per call (RFC 3261 section 14.1, RFC 3311 section
// 5.1): Hold, Resume, Update, a session refresh by re-INVITE and a move's
// offer all go through Call.offer, which waits for the call's earlier
// offer to be answered, and retried, before it sends its own. An offer
// from the far end that arrives while ours is unanswered is a glare: it
// is refused with 491 (section 14.2, RFC 3311 section 5.2), and our offer
// that gets 491 is sent again after a random delay, longer for the end
// that placed the call, so that the two ends do not collide again.

// offerAttempts is how many times one offer is sent when the far end
// answers 491: the first and two retries.
const offerAttempts = 3

// answerWait bounds how long an offer from the far end waits for this
// phone to finish answering its previous one. That normally takes
// microseconds after the answer leaves; a stuck answer (a stream
// transport that does not drain) gets the far end 500 with Retry-After.
const answerWait = 2 * time.Second

// afterAnswerSent, when set by a test, runs in onReinvite between our
// answer leaving and the answer being done: it widens that window, which
// is otherwise too short to hit on purpose.
var afterAnswerSent func()

// glareDelays are the ranges RFC 3261 section 14.2 sets for the retry
// after a 491: [0] for the end that owns the Call-ID (placed the call),
// [1] for the other. A variable so that tests can shorten them.
var glareDelays = [2][2]time.Duration{
	{2100 * time.Millisecond, 4 * time.Second},
	{0, 2 * time.Second},
}

// glareDelay is a random wait in the range for owner or not.
func glareDelay(owner bool) time.Duration {
	r := glareDelays[1]
	if owner {
		r = glareDelays[0]
	}
	if r[1] <= r[0] {
		return r[0]
	}
	return r[0] + rand.N(r[1]-r[0])
}

// isGlare reports whether err is the far end's 491 Request Pending.
func isGlare(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == 491
}

// offerGate wakes the calls waiting to send an offer. It is one per
// phone, not a channel per call: a call's turn is the offering flag, in
// padding the Call struct has anyway, so the gate costs calls no memory
// (each call and its stream fill a 2304-byte size class to within 8
// bytes; a channel per call would take those and 96 more). Offers are
// rare, so waking every waiter of the phone when one finishes is cheap.
type offerGate struct {
	mu    sync.Mutex
	freed chan struct{} // closed, and replaced, when a call's offer or our answer finishes
}

// wait returns the channel closed when the next offer finishes.
func (g *offerGate) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.freed == nil {
		g.freed = make(chan struct{})
	}
	return g.freed
}

// wake tells the waiters that an offer, or our answer to one, finished.
func (g *offerGate) wake() {
	g.mu.Lock()
	if g.freed != nil {
		close(g.freed)
		g.freed = nil
	}
	g.mu.Unlock()
}

// takeOfferTurn waits until the call has no offer of ours in progress
// and makes it the caller's; releaseOfferTurn gives it back. It fails
// when ctx ends or the call ends first.
func (c *Call) takeOfferTurn(ctx context.Context) error {
	for {
		c.mu.Lock()
		if c.state == CallEnded || c.ending {
			c.mu.Unlock()
			return ErrCallEnded
		}
		if !c.offering {
			c.offering = true
			c.mu.Unlock()
			return nil
		}
		// Taken under c.mu: the turn's release clears offering under
		// c.mu before it wakes, so this channel sees that wake.
		freed := c.p.offerGate.wait()
		c.mu.Unlock()
		if err := c.awaitFreed(ctx, freed, "the call's offer in progress"); err != nil {
			return err
		}
	}
}

// awaitFreed waits, without c.mu, for the gate's channel freed; it fails
// when the call or ctx ends first.
func (c *Call) awaitFreed(ctx context.Context, freed <-chan struct{}, what string) error {
	select {
	case <-freed:
		return nil
	case <-c.done:
		return ErrCallEnded
	case <-ctx.Done():
		return fmt.Errorf("softphone: waiting for %s: %w", what, ctx.Err())
	}
}

// waitAnswered returns, with c.mu held, once the call is not answering
// an offer from the far end (onReinvite); or, without c.mu, the error
// that ended the wait.
func (c *Call) waitAnswered(ctx context.Context) error {
	for {
		c.mu.Lock()
		if !c.answering {
			return nil
		}
		freed := c.p.offerGate.wait()
		c.mu.Unlock()
		if err := c.awaitFreed(ctx, freed, "our answer to the far end's offer"); err != nil {
			return err
		}
	}
}

// doneAnswering ends what onReinvite's answering began and wakes an
// offer of ours waiting for it.
func (c *Call) doneAnswering() {
	c.mu.Lock()
	c.answering = false
	c.mu.Unlock()
	c.p.offerGate.wake()
}

func (c *Call) releaseOfferTurn() {
	c.mu.Lock()
	c.offering = false
	c.mu.Unlock()
	c.p.offerGate.wake()
}

// offer sends a new offer within the dialog (see offerOnce) once the
// call's earlier offer is done, and again after a 491, up to
// offerAttempts in all.
func (c *Call) offer(ctx context.Context, method sip.RequestMethod, intent offerIntent) error {
	if err := c.takeOfferTurn(ctx); err != nil {
		return err
	}
	defer c.releaseOfferTurn()
	for attempt := 1; ; attempt++ {
		err := c.offerOnce(ctx, method, intent)
		if !isGlare(err) || attempt >= offerAttempts {
			return err
		}
		c.p.count("glare_retries")
		wait := glareDelay(c.dir == Outgoing)
		c.p.log.Debug("offer met another (491), retrying", logCallID, c.id, "after", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return ErrCallEnded
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("softphone: waiting to retry after 491: %w: %w", ctx.Err(), err)
		}
	}
}
