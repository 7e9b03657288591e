package softphone_test

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
)

// TestIntegrationUDPKeepAlive: over UDP the phone sends STUN Binding
// requests to kamailio on the SIP flow and kamailio answers them; when
// kamailio goes away the silence counts as a broken flow.
func TestIntegrationUDPKeepAlive(t *testing.T) {
	k := lab.Kamailio(t, nil)
	p := newPhone(t, k, "alice", "secret1", "udp", func(c *softphone.Config) { c.KeepAlive = 200 * time.Millisecond })
	require.NoError(t, p.Start(t.Context()))
	eventually(t, 5*time.Second, func() bool { return p.Health().Counters["stun_keepalives"] >= 3 }, "kamailio answered no STUN keep-alive")
	assert.Zero(t, p.Health().Counters["flow_failures"])

	require.NoError(t, k.Close())
	// Four Binding requests over 7.5 s go unanswered.
	eventually(t, 12*time.Second, func() bool { return p.Health().Counters["flow_failures"] >= 1 }, "silence of the registrar not noticed")
}

// natBox forwards UDP between a phone and kamailio the way a NAT would:
// kamailio sees the phone at the box's outside address, which Rebind
// changes (a NAT that forgot the binding, or the phone moving to another
// network).
type natBox struct {
	t      *testing.T
	inside net.PacketConn // the phone's registrar address
	server *net.UDPAddr
	mu     sync.Mutex
	out    net.PacketConn
	phone  net.Addr
	wg     sync.WaitGroup
}

func newNATBox(t *testing.T, server string) *natBox {
	in, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	sa, err := net.ResolveUDPAddr("udp", server)
	require.NoError(t, err)
	n := &natBox{t: t, inside: in, server: sa}
	n.Rebind("127.0.0.2")
	n.wg.Go(func() {
		buf := make([]byte, 65536)
		for {
			m, from, err := in.ReadFrom(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.phone = from
			out := n.out
			n.mu.Unlock()
			_, _ = out.WriteTo(buf[:m], n.server)
		}
	})
	t.Cleanup(func() {
		in.Close()
		n.mu.Lock()
		n.out.Close()
		n.mu.Unlock()
		n.wg.Wait()
	})
	return n
}

func (n *natBox) Addr() string { return n.inside.LocalAddr().String() }

// Rebind moves the outside of the box to a new socket on ip (loopback).
func (n *natBox) Rebind(ip string) {
	out, err := net.ListenPacket("udp", ip+":0")
	require.NoError(n.t, err)
	n.mu.Lock()
	old := n.out
	n.out = out
	n.mu.Unlock()
	if old != nil {
		old.Close()
	}
	n.wg.Go(func() {
		buf := make([]byte, 65536)
		for {
			m, _, err := out.ReadFrom(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			phone := n.phone
			n.mu.Unlock()
			if phone != nil {
				_, _ = n.inside.WriteTo(buf[:m], phone)
			}
		}
	})
}

// TestIntegrationNATRebinding: the address kamailio sees the phone at
// changes (127.0.0.2 → 127.0.0.3 on the outside of a NAT); the next STUN
// keep-alive shows it and the phone registers again at once, long before
// its refresh is due.
func TestIntegrationNATRebinding(t *testing.T) {
	k := lab.Kamailio(t, nil)
	nat := newNATBox(t, k.UDPAddr)
	p := newPhoneAt(t, nat.Addr(), "alice", "secret1", "udp", func(c *softphone.Config) {
		c.KeepAlive = 300 * time.Millisecond
		c.ListenIP = "127.0.0.1"
	})
	require.NoError(t, p.Start(t.Context()))
	waitFor[softphone.Registered](t, p, 5*time.Second, nil)
	eventually(t, 5*time.Second, func() bool { return p.Health().Counters["stun_keepalives"] >= 1 }, "no STUN answer through the NAT")
	assert.Zero(t, p.Health().Counters["address_changes"])

	nat.Rebind("127.0.0.3")
	moved := time.Now()
	waitFor[softphone.Registered](t, p, 3*time.Second, func(e softphone.Registered) bool { return e.Refresh && e.Header().Time.After(moved) })
	t.Logf("registered again %v after the NAT rebinding (refresh due in 30 s)", time.Since(moved).Round(time.Millisecond))
	assert.Equal(t, int64(1), p.Health().Counters["address_changes"])
	require.NoError(t, p.Shutdown(t.Context()))
}

// recorder is a slog.Handler counting records, keeping their messages.
type recorder struct {
	n    atomic.Int64
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.n.Add(1)
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Message)
	r.mu.Unlock()
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// sipgoRecorder counts records that came through sipgo's package logger.
type sipgoRecorder struct {
	recorder
	fromSipgo atomic.Int64
}

func (r *sipgoRecorder) Handle(ctx context.Context, rec slog.Record) error {
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "from" && a.Value.String() == "sipgo" {
			r.fromSipgo.Add(1)
		}
		return true
	})
	return r.recorder.Handle(ctx, rec)
}
func (r *sipgoRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *sipgoRecorder) WithGroup(string) slog.Handler      { return r }

// TestSipgoLogsGoToThePhone: during calls over TCP and UDP nothing reaches
// slog.Default: the lines sipgo writes through its package logger (TCP
// connection reference counting among them) reach the phone's injected
// logger instead.
func TestSipgoLogsGoToThePhone(t *testing.T) {
	k := lab.Kamailio(t, nil)
	global := &recorder{}
	prev := slog.Default()
	slog.SetDefault(slog.New(global))
	defer slog.SetDefault(prev)

	for _, tp := range []string{"tcp", "udp"} {
		t.Run(tp, func(t *testing.T) {
			injected := &sipgoRecorder{}
			mod := func(c *softphone.Config) { c.Logger = slog.New(injected) }
			alice := newPhone(t, k, "alice", "secret1", tp, mod)
			bob := newPhone(t, k, "bob", "secret2", tp, mod)
			require.NoError(t, alice.Start(t.Context()))
			require.NoError(t, bob.Start(t.Context()))
			go func() {
				ev := waitFor[softphone.CallReceived](t, bob, 10*time.Second, nil)
				assert.NoError(t, ev.Call.Answer(t.Context(), nil))
			}()
			call, err := alice.Dial(t.Context(), "bob", nil)
			require.NoError(t, err)
			time.Sleep(200 * time.Millisecond)
			require.NoError(t, call.Hangup(t.Context()))
			require.NoError(t, alice.Shutdown(t.Context()))
			require.NoError(t, bob.Shutdown(t.Context()))
			assert.Positive(t, injected.n.Load(), "the injected logger got nothing")
			if tp == "tcp" {
				assert.Positive(t, injected.fromSipgo.Load(), "sipgo's package-level lines did not reach the phone")
			}
		})
	}
	global.mu.Lock()
	defer global.mu.Unlock()
	assert.Zero(t, global.n.Load(), "reached slog.Default: %q", global.msgs)
}
