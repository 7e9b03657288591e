package im_test

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/opencsf/opencsf/im"
	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// relay is a TCP relay in front of a server whose current connections can
// be made to lose every packet silently (no FIN, no RST), as a dead Wi-Fi
// or a firewall dropping the flow would. It speaks no XMPP.
type relay struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	conns    map[*relayConn]struct{}
	wg       sync.WaitGroup
}

type relayConn struct {
	client, server net.Conn
	mu             sync.Mutex
	dead           bool
}

func (rc *relayConn) isDead() bool { rc.mu.Lock(); defer rc.mu.Unlock(); return rc.dead }

func newRelay(t *testing.T, upstream string) *relay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &relay{ln: ln, upstream: upstream, conns: map[*relayConn]struct{}{}}
	r.wg.Add(1)
	go r.serve()
	t.Cleanup(r.close)
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", r.upstream)
		if err != nil {
			c.Close()
			continue
		}
		rc := &relayConn{client: c, server: s}
		r.mu.Lock()
		r.conns[rc] = struct{}{}
		r.mu.Unlock()
		r.wg.Add(2)
		go r.pipe(rc, c, s)
		go r.pipe(rc, s, c)
	}
}

// pipe copies src to dst until src ends; once the connection is dead it
// reads and discards, and does not pass an end of stream on.
func (r *relay) pipe(rc *relayConn, src, dst net.Conn) {
	defer r.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !rc.isDead() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !rc.isDead() {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
			}
			return
		}
	}
}

// blackhole makes every current connection lose all packets from now on.
func (r *relay) blackhole() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for rc := range r.conns {
		rc.mu.Lock()
		rc.dead = true
		rc.mu.Unlock()
	}
}

func (r *relay) close() {
	r.ln.Close()
	r.mu.Lock()
	for rc := range r.conns {
		rc.client.Close()
		rc.server.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// converse makes alice and bob each send n messages to the other, calling
// fault after the first third, and checks that every message arrives
// exactly once on each side.
func converse(t *testing.T, alice, bob *testClient, n int, fault func()) {
	var sentA, sentB []string
	var wg sync.WaitGroup
	send := func(from *testClient, to string, out *[]string, tag string) {
		defer wg.Done()
		for i := range n {
			id, err := from.SendText(t.Context(), to, fmt.Sprintf("%s %d", tag, i))
			if err != nil {
				t.Errorf("send: %v", err)
				return
			}
			*out = append(*out, id)
			time.Sleep(30 * time.Millisecond) // paced, so that the fault lands mid-conversation
		}
	}
	wg.Add(2)
	go send(alice, jidOf("bob"), &sentA, "a→b")
	go send(bob, jidOf("alice"), &sentB, "b→a")
	time.Sleep(time.Duration(n/3) * 30 * time.Millisecond)
	fault()
	wg.Wait()

	check := func(name string, rcv *testClient, ids []string) {
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
		}
		incoming := func(e im.MessageReceived) bool { return e.Message.Direction == im.Incoming && want[e.Message.ID] }
		got := waitCount(t, rcv, len(ids), incoming)
		// Give duplicates a moment to show up before counting.
		time.Sleep(time.Second)
		got = all(rcv, incoming)
		counts := map[string]int{}
		for _, e := range got {
			counts[e.Message.ID]++
		}
		dups := 0
		for _, c := range counts {
			if c > 1 {
				dups += c - 1
			}
		}
		t.Logf("%s: sent %d, received %d distinct, %d duplicates, stats %v", name, len(ids), len(counts), dups, rcv.Health().Counters)
		assert.Len(t, counts, len(ids), "%s: every message arrives", name)
		assert.Zero(t, dups, "%s: no message arrives twice", name)
	}
	check("alice→bob", bob, sentA)
	check("bob→alice", alice, sentB)
}

func TestIntegrationResilienceDroppedConnection(t *testing.T) {
	p := lab.Prosody(t, nil)
	r := newRelay(t, p.Addr)
	alice := startClient(t, r.addr(), p.CA(), "alice", "secret1", func(c *im.Config) { c.Resource = "drop" })
	bob := startClient(t, r.addr(), p.CA(), "bob", "secret2", func(c *im.Config) { c.Resource = "drop" })
	converse(t, alice, bob, 30, r.blackhole)
	// Both sessions were resumed (XEP-0198), not started afresh.
	ev := waitFor[im.Connected](t, alice, func(e im.Connected) bool { return e.Resumed })
	assert.Equal(t, jidOf("alice")+"/drop", ev.JID)
	waitFor[im.Connected](t, bob, func(e im.Connected) bool { return e.Resumed })
}

func TestIntegrationResilienceServerRestart(t *testing.T) {
	p := lab.Prosody(t, nil)
	alice := startClient(t, p.Addr, p.CA(), "alice", "secret1", func(c *im.Config) { c.Resource = "restart" })
	bob := startClient(t, p.Addr, p.CA(), "bob", "secret2", func(c *im.Config) { c.Resource = "restart" })
	converse(t, alice, bob, 30, func() {
		require.NoError(t, p.Restart(t.Context()))
	})
	// A restarted prosody has no session to resume: fresh sessions, and
	// the archive filled the gap.
	waitCount(t, alice, 2, func(e im.Connected) bool { return !e.Resumed })
	waitCount(t, bob, 2, func(e im.Connected) bool { return !e.Resumed })
}
