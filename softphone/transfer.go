package softphone

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/opencsf/opencsf/csf"
)

// CallTransferred reports that the far end asked us to transfer a call
// (REFER, RFC 3515) and we placed the new call: Call is the call we were
// on, New the call to the transfer target. The far end then hangs up Call.
type CallTransferred struct {
	csf.EventHeader
	Call   *Call
	New    *Call
	Target string
	// Err is set when the new call failed; Call then goes on.
	Err error
}

// CallReplaced reports that an incoming call replaced one of ours (an
// attended transfer completed by the far ends, RFC 3891): New was answered
// in place of Old, which ended.
type CallReplaced struct {
	csf.EventHeader
	Old *Call
	New *Call
}

// Transfer asks the far end to call to instead (a blind transfer, REFER
// per RFC 3515) and returns once it reports the new call answered; our
// call then ends. An error from the far end's new call is a *StatusError
// and leaves this call up.
func (c *Call) Transfer(ctx context.Context, to string) error {
	target, err := c.p.parseURI(to)
	if err != nil {
		return err
	}
	return c.refer(ctx, "<"+target.String()+">")
}

// TransferTo completes an attended transfer: the far end of c is connected
// to the far end of other (REFER with Replaces, RFC 3891), and both of our
// calls end. Put c on hold and talk to other first, as a person would.
func (c *Call) TransferTo(ctx context.Context, other *Call) error {
	other.mu.Lock()
	d := other.dlg
	other.mu.Unlock()
	if d.remoteTag == "" {
		return fmt.Errorf("softphone: transfer to %s: %w", other.remote, ErrBadState)
	}
	// At the receiver of Replaces (other's far end), to-tag is its local tag
	// (our remote tag) and from-tag its remote tag (ours).
	replaces := other.id + ";to-tag=" + d.remoteTag + ";from-tag=" + d.localTag
	target := uri(d.remoteURI)
	target.Headers = nil
	target.UriParams = nil
	uri := target.String() + "?Replaces=" + url.QueryEscape(replaces)
	if err := c.refer(ctx, "<"+uri+">"); err != nil {
		return err
	}
	// The far end of other hangs other up when the replacement arrives;
	// wait a moment for it, then make sure.
	select {
	case <-other.done:
	case <-time.After(2 * time.Second):
		other.Hangup(ctx)
	case <-ctx.Done():
	}
	return nil
}

// refer sends REFER and follows the NOTIFYs until a final status.
func (c *Call) refer(ctx context.Context, referTo string) error {
	if s := c.State(); s != CallActive && s != CallHeld && s != CallRemoteHeld {
		return fmt.Errorf("softphone: transfer in state %s: %w", s, ErrBadState)
	}
	result := make(chan int, 1)
	c.mu.Lock()
	c.referResult = result
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.referResult = nil
		c.mu.Unlock()
	}()
	req := c.inDialog(sip.REFER)
	req.AppendHeader(sip.NewHeader("Refer-To", referTo))
	req.AppendHeader(sip.NewHeader("Referred-By", "<"+c.line.acct.AOR()+">"))
	res, err := c.p.transact(ctx, req, nil)
	if err != nil {
		return fmt.Errorf("softphone: transfer: %w", err)
	}
	if res.StatusCode != 202 && !res.IsSuccess() {
		return fmt.Errorf("softphone: transfer: %w", statusError("REFER", res, nil))
	}
	select {
	case code := <-result:
		if code >= 300 {
			return fmt.Errorf("softphone: transfer: %w", &StatusError{Method: "INVITE", Code: code, Reason: reasonPhrase(code)})
		}
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return nil
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = c.sendBye(bctx)
	c.end(nil, false)
	return err
}

// onNotify takes the progress of a transfer we asked for (RFC 3515
// section 2.4.5: message/sipfrag bodies).
func (p *Phone) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		reply(req, tx, 481, "")
		return
	}
	if ev := req.GetHeader("Event"); ev == nil || !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ev.Value())), "refer") {
		reply(req, tx, 489, "")
		return
	}
	reply(req, tx, 200, "")
	code := sipfragCode(string(req.Body()))
	if code < 200 {
		return
	}
	c.mu.Lock()
	ch := c.referResult
	c.mu.Unlock()
	if ch != nil {
		select {
		case ch <- code:
		default:
		}
	}
}

// sipfragCode reads the status code of "SIP/2.0 200 OK"; 0 when absent.
func sipfragCode(body string) int {
	line, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "SIP/") {
		return 0
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 100 || n > 699 {
		return 0
	}
	return n
}

// onRefer accepts a transfer request: 202, then the new call is placed on
// a goroutine the phone owns, with NOTIFYs reporting its progress.
func (p *Phone) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		reply(req, tx, 481, "")
		return
	}
	h := req.GetHeader("Refer-To")
	if h == nil {
		reply(req, tx, 400, "no Refer-To")
		return
	}
	target := strings.TrimSpace(h.Value())
	if i := strings.IndexByte(target, '<'); i >= 0 {
		if j := strings.IndexByte(target[i:], '>'); j > 0 {
			target = target[i+1 : i+j]
		}
	}
	uri, replaces, err := splitReplaces(target)
	if err != nil {
		reply(req, tx, 400, "bad Refer-To")
		return
	}
	p.mu.Lock()
	if p.closed || p.shutdowns {
		p.mu.Unlock()
		reply(req, tx, 480, "")
		return
	}
	p.work.Add(1)
	p.mu.Unlock()
	reply(req, tx, 202, "")
	go func() {
		defer p.work.Done()
		p.transfer(c, uri, replaces)
	}()
}

// splitReplaces separates an embedded Replaces header from a Refer-To URI.
func splitReplaces(target string) (uri, replaces string, err error) {
	uri, query, found := strings.Cut(target, "?")
	if !found {
		return uri, "", nil
	}
	for part := range strings.SplitSeq(query, "&") {
		k, v, _ := strings.Cut(part, "=")
		if strings.EqualFold(k, "Replaces") {
			if replaces, err = url.QueryUnescape(v); err != nil {
				return "", "", err
			}
		}
	}
	return uri, replaces, nil
}

func (p *Phone) transfer(c *Call, target, replaces string) {
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.RingTimeout)
	defer cancel()
	c.notifyRefer(ctx, "SIP/2.0 100 Trying", false)
	// The new call takes over the old one's audio; the old one, about to
	// end, goes silent rather than share the source.
	src, sink := c.stream.takeIO()
	opts := &CallOptions{Source: src, Sink: sink, Line: c.line.acct.User}
	nc, err := p.dial(ctx, target, opts, replaces)
	code := 200
	if err != nil {
		c.stream.setIO(src, sink) // still ours: the transfer failed
		code = 503
		var se *StatusError
		if errors.As(err, &se) {
			code = se.Code
		}
	}
	csf.Publish(p.cfg.Events, CallTransferred{Call: c, New: nc, Target: target, Err: err})
	c.notifyRefer(ctx, fmt.Sprintf("SIP/2.0 %d %s", code, reasonPhrase(code)), true)
}

func (c *Call) notifyRefer(ctx context.Context, frag string, final bool) {
	req := c.inDialog(sip.NOTIFY)
	req.AppendHeader(sip.NewHeader("Event", "refer"))
	state := "active;expires=60"
	if final {
		state = "terminated;reason=noresource"
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte(frag + "\r\n"))
	nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.p.transact(nctx, req, nil); err != nil {
		c.p.log.Debug("transfer NOTIFY failed", logCallID, c.id, "err", err)
	}
}

// replacedCall finds the call a Replaces header (RFC 3891 section 3) names:
// call-id;to-tag=<our local tag>;from-tag=<our remote tag>.
func (p *Phone) replacedCall(v string) *Call {
	parts := strings.Split(v, ";")
	if len(parts) < 3 {
		return nil
	}
	var to, from string
	for _, prm := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(prm), "=")
		switch strings.ToLower(k) {
		case "to-tag":
			to = val
		case "from-tag":
			from = val
		}
	}
	p.mu.Lock()
	c := p.calls[strings.TrimSpace(parts[0])]
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dlg.localTag != to || c.dlg.remoteTag != from {
		return nil
	}
	return c
}
