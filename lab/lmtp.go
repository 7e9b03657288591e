package lab

import (
	"context"
	"fmt"
	"net"
	"net/textproto"
	"os/exec"
)

// DeliverLMTP hands an RFC 5322 message (CRLF line ends) to the server's
// LMTP port for user ("alice" or "alice@example.test"), as a voicemail
// system or a mail server in front of dovecot would: dovecot stores it
// through its storage layer (index updated, IDLE sessions notified as for
// any delivery of its own). It fails with an error matching exec.ErrNotFound
// when dovecot's LMTP server is not installed.
func (d *DovecotServer) DeliverLMTP(ctx context.Context, userName string, rfc822 []byte) error {
	if d.LMTPAddr == "" {
		return fmt.Errorf("lab: dovecot: deliver by LMTP: dovecot-lmtpd not installed: %w", exec.ErrNotFound)
	}
	u, ok := findUser(d.s.users, userName)
	if !ok {
		return fmt.Errorf("lab: dovecot: deliver by LMTP: no user %q", userName)
	}
	if err := deliverLMTP(ctx, d.LMTPAddr, u.Email, rfc822); err != nil {
		return fmt.Errorf("lab: dovecot: deliver by LMTP to %s: %w", u.Email, err)
	}
	return nil
}

// deliverLMTP runs one LMTP transaction (RFC 2033) with the server at addr:
// one message for one recipient.
func deliverLMTP(ctx context.Context, addr, rcpt string, rfc822 []byte) error {
	var dialer net.Dialer
	nc, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	c := textproto.NewConn(nc)
	// RFC 2033: LHLO instead of EHLO, and after DATA one reply per
	// accepted recipient (here one).
	step := func(cmd string, want int) error {
		if cmd != "" {
			if err := c.PrintfLine("%s", cmd); err != nil {
				return err
			}
		}
		if _, _, err := c.ReadResponse(want); err != nil {
			return fmt.Errorf("%q: %w", cmd, err)
		}
		return nil
	}
	fail := func(err error) error {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return err
	}
	for _, s := range []struct {
		cmd  string
		want int
	}{{"", 220}, {"LHLO lab.example.test", 250}, {"MAIL FROM:<voicemail@" + Domain + ">", 250},
		{"RCPT TO:<" + rcpt + ">", 250}, {"DATA", 354}} {
		if err := step(s.cmd, s.want); err != nil {
			return fail(err)
		}
	}
	w := c.DotWriter() // dot-stuffs, ends with CRLF . CRLF on Close
	if _, err := w.Write(rfc822); err != nil {
		return fail(err)
	}
	if err := w.Close(); err != nil {
		return fail(err)
	}
	if err := step("", 250); err != nil {
		return fail(err)
	}
	_ = step("QUIT", 221)
	return nil
}
