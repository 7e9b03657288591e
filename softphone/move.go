package softphone

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/opencsf/opencsf/csf"
)

// Calls in progress follow the phone when it moves to a new local address
// (moveTo): each established call takes RTP ports there and offers them
// to the far end in a re-INVITE (or UPDATE, as Hold would send it), whose
// Contact is also the phone's new SIP address (a target refresh, RFC 3261
// section 12.2). Without it a laptop that changes network mid-call would
// keep advertising, and sending from, an address that no longer works.

// moveAttempts is how many offers a call makes after a move before it
// ends: the first and two retries, retryPolicy apart. A lost request is
// likelier than a vanished peer just after a network change, so a timeout
// is retried although RFC 3261 section 12.2.1.2 would end the dialog at
// once; a refusal that another try cannot change is not.
const moveAttempts = 3

// moveCalls makes every established call follow the phone to its
// current address, each on a goroutine of its own (a re-INVITE can take
// 32 s to time out, and the keep-alive loop that calls this must go on).
// A call still following an earlier move is told of this one and goes on
// to the newest address once its offer in flight is answered: one offer
// at a time per call.
func (p *Phone) moveCalls() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	calls := p.callList()
	// Counted while the goroutines start, so that Close, once it has seen
	// closed, waits for them; the calls' locks are taken without p.mu.
	p.work.Add(1)
	p.mu.Unlock()
	defer p.work.Done()
	for _, c := range calls {
		c.mu.Lock()
		state, ending := c.state, c.ending
		if ending || (state != CallActive && state != CallHeld && state != CallRemoteHeld) {
			c.mu.Unlock()
			continue
		}
		c.moveGen++
		start := !c.moving
		c.moving = true
		c.mu.Unlock()
		if start {
			p.work.Add(1)
			go func() {
				defer p.work.Done()
				c.follow()
			}()
		}
	}
}

// follow moves the call's media to the phone's address and offers it,
// retrying transient failures with backoff (a 491 is retried by
// Call.offer, see glare.go). Each failure is published as
// [CallMoveFailed]; the last ends the call (BYE, Err wrapping
// [ErrMoveFailed]), since a call whose far end does not know where we are
// is broken while it looks fine. A move that comes meanwhile restarts it,
// tries counted afresh, for the newest address.
func (c *Call) follow() {
	p := c.p
	c.mu.Lock()
	gen := c.moveGen
	c.mu.Unlock()
	for attempt := 0; ; attempt++ {
		media, err := c.moveOnce(p.localIP())
		final := err == nil || errors.Is(err, ErrCallEnded) || p.ctx.Err() != nil ||
			!moveRetryable(err) || attempt+1 >= moveAttempts
		if newer, ok := c.settle(gen, final); !ok {
			gen, attempt = newer, -1
			continue
		}
		switch {
		case err == nil:
			p.count("calls_moved")
			p.log.Info("call moved to the new address", logCallID, c.id, "media", media.String())
			csf.Publish(p.cfg.Events, CallMoved{Call: c, Media: media})
			return
		case errors.Is(err, ErrCallEnded) || p.ctx.Err() != nil:
			return
		}
		p.count("call_moves_failed")
		p.log.Warn("call did not follow the move", logCallID, c.id, "err", err, "retrying", !final)
		csf.Publish(p.cfg.Events, CallMoveFailed{Call: c, Err: err, Retrying: !final})
		if final {
			ferr := fmt.Errorf("softphone: call %s did not follow the move to %s: %w: %w", c.remote, p.localIP(), ErrMoveFailed, err)
			if !errors.Is(err, &StatusError{Code: 481}) {
				// The far end still has the dialog: tell it the call is over.
				if berr := c.sendBye(p.ctx); berr != nil {
					p.log.Debug("BYE after a failed move", logCallID, c.id, "err", berr)
				}
			}
			c.end(ferr, false)
			return
		}
		t := time.NewTimer(retryPolicy.Delay(attempt))
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return
		case <-p.ctx.Done():
			t.Stop()
			return
		}
	}
}

// settle checks, after an offer for move gen, whether another move came
// meanwhile: then it returns that one's number and false. Otherwise, when
// final, the call stops moving (the next move starts a new follow).
func (c *Call) settle(gen uint32, final bool) (uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.moveGen != gen && !c.ending && c.state != CallEnded {
		return c.moveGen, false
	}
	if final {
		c.moving = false
	}
	return gen, true
}

// moveOnce rebinds the call's RTP on ip (once: a retry finds it there)
// and sends the new offer, keeping the direction (a held call stays
// held), the codec and the SRTP keys, as Hold and Resume do. It returns
// where the media now is.
func (c *Call) moveOnce(ip string) (netip.AddrPort, error) {
	c.mu.Lock()
	rebind := c.local.ip != ip
	c.mu.Unlock()
	if rebind {
		port, err := c.stream.rebind(ip)
		if err != nil {
			return netip.AddrPort{}, err
		}
		c.mu.Lock()
		c.local.ip, c.local.port = ip, port
		// Offer rtcp-mux again only if it is in use: a far end that
		// refused it before is not asked to start now.
		c.local.rtcpMux = c.stream.muxed()
		c.mu.Unlock()
	}
	c.mu.Lock()
	local := c.local
	c.mu.Unlock()
	if err := c.offer(c.p.ctx, c.offerMethod(), offerKeep); err != nil {
		return netip.AddrPort{}, err
	}
	a, err := netip.ParseAddr(local.ip)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("softphone: media address %q: %w", local.ip, err)
	}
	return netip.AddrPortFrom(a, uint16(local.port)), nil
}

// moveRetryable says whether another offer may succeed where err failed:
// a timeout or transport error or a busy or failing server; not a
// refusal of the offer or a dialog the far end no longer knows (481).
// Not a glare (491) either: Call.offer retried that already, after the
// delays RFC 3261 section 14.2 sets, and a far end still busy with its
// own offers after offerAttempts tries is not waited for longer.
func moveRetryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case 408, 480, 500, 503, 504:
			return true
		}
		return false
	}
	return !errors.Is(err, ErrBadSDP) && !errors.Is(err, ErrNoCodec) && !errors.Is(err, context.Canceled)
}

// rebind gives the stream a port pair of its own on ip and returns its
// RTP port. A stream on its shard's shared port leaves it (the shared
// ports stay where the phone opened: other calls may still use them, and
// calls placed after a move take ports of their own too); its SSRC and
// SRTP contexts stay, so the far end finds the same stream at the new
// address. It stays in its shard's pacing loop, which then sends from the
// new port.
func (s *stream) rebind(ip string) (int, error) {
	s.shardMu.Lock()
	defer s.shardMu.Unlock()
	if s.closed {
		return 0, ErrCallEnded
	}
	rc, cc, port, err := listenPair(ip)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	oldSock, oldRTP, oldRTCP, running := s.sock, s.rtpConn, s.rtcpConn, s.running
	s.sock, s.rtpConn, s.rtcpConn, s.localPort = nil, rc, cc, int32(port)
	s.mu.Unlock()
	if oldSock != nil {
		oldSock.unbind(s)
		// The shared readers may be handing the stream a packet: wait, so
		// that the SRTP contexts are never used by two readers at once.
		oldSock.quiesce()
	} else {
		oldRTP.Close()
		oldRTCP.Close()
		if running {
			s.wg.Wait()
		}
	}
	// A stream not yet started gets its readers from start, which sees
	// the new ports.
	if running {
		s.wg.Add(2)
		go s.readRTP(rc)
		go s.readRTCP(cc)
	}
	return port, nil
}
