package softphone_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
	"github.com/opencsf/opencsf/softphone/internal/digest"
)

// netnsEnv marks the run of the test binary inside a network namespace of
// its own, where the test may change routes.
const netnsEnv = "OPENCSF_TEST_NETNS"

// inNetns runs test in a fresh network namespace (unshare --net, root
// only) by running this test binary again there, and reports its result.
// Everything it does, kamailio included, stays in that namespace's
// loopback.
func inNetns(t *testing.T, test string) {
	t.Helper()
	unshare, err1 := exec.LookPath("unshare")
	_, err2 := exec.LookPath("ip")
	if os.Geteuid() != 0 || err1 != nil || err2 != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("need root, unshare (util-linux) and ip (iproute2) for a network namespace")
		}
		t.Skip("need root, unshare and ip for a network namespace")
	}
	args := []string{"--net", os.Args[0], "-test.run=^" + test + "$", "-test.count=1", "-test.v"}
	cmd := exec.CommandContext(t.Context(), unshare, args...)
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in a network namespace:\n%s", out)
	require.NoError(t, err)
	require.Contains(t, string(out), "--- PASS: "+test)
}

// netnsKamailio runs the calling test again in a network namespace of its
// own and returns nil; run there, it brings up loopback and returns a lab
// kamailio on it.
func netnsKamailio(t *testing.T) *lab.KamailioServer {
	t.Helper()
	if os.Getenv(netnsEnv) == "" {
		inNetns(t, t.Name())
		return nil
	}
	ipCmd(t, "link", "set", "lo", "up")
	return lab.Kamailio(t, nil)
}

// routeFrom makes traffic to 127.0.0.1 leave from src, as when a laptop
// changes networks.
func routeFrom(t *testing.T, src string) {
	t.Helper()
	ipCmd(t, "route", "replace", "local", "127.0.0.1", "dev", "lo", "table", "local", "src", src)
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
}

// TestIntegrationAddressChange: the route to kamailio (127.0.0.1) starts
// leaving from 127.0.0.2 instead of 127.0.0.1, as when a laptop moves to
// another network. At its next keep-alive the phone moves its SIP socket
// there and registers again from it, removing its old contact; a call to
// it goes through. In a network namespace of the test's own.
func TestIntegrationAddressChange(t *testing.T) {
	k := netnsKamailio(t)
	if k == nil {
		return // ran in its namespace
	}
	for _, tp := range []string{"udp", "tcp"} {
		t.Run(tp, func(t *testing.T) {
			t.Cleanup(func() {
				routeFrom(t, "127.0.0.1")
			})
			alice := newPhone(t, k, "alice", "secret1", tp, func(c *softphone.Config) { c.KeepAlive = 200 * time.Millisecond })
			bob := newPhone(t, k, "bob", "secret2", tp, func(c *softphone.Config) { c.ListenIP = "127.0.0.1" })
			require.NoError(t, alice.Start(t.Context()))
			require.NoError(t, bob.Start(t.Context()))
			waitFor[softphone.Registered](t, alice, 5*time.Second, nil)
			require.Equal(t, "127.0.0.1", host(t, alice.SIPAddr()))
			require.Equal(t, []string{"127.0.0.1"}, contactHosts(t, k.UDPAddr, "alice", "secret1"))

			routeFrom(t, "127.0.0.2")
			moved := time.Now()
			waitFor[softphone.Registered](t, alice, 3*time.Second, func(e softphone.Registered) bool { return e.Header().Time.After(moved) })
			t.Logf("registered from the new address %v after the route changed", time.Since(moved).Round(time.Millisecond))
			assert.Equal(t, "127.0.0.2", host(t, alice.SIPAddr()))
			assert.Equal(t, int64(1), alice.Health().Counters["address_changes"])
			// The old contact is gone, the new one is there.
			assert.Equal(t, []string{"127.0.0.2"}, contactHosts(t, k.UDPAddr, "alice", "secret1"))

			go func() {
				ev := waitFor[softphone.CallReceived](t, alice, 10*time.Second, nil)
				assert.NoError(t, ev.Call.Answer(t.Context(), nil))
			}()
			call, err := bob.Dial(t.Context(), "alice", nil)
			require.NoError(t, err)
			require.NoError(t, call.Hangup(t.Context()))
			require.NoError(t, alice.Shutdown(t.Context()))
			require.NoError(t, bob.Shutdown(t.Context()))
		})
	}
}

// TestIntegrationCallFollowsMove: alice talks to bob through kamailio
// when the route to it starts leaving from 127.0.0.2. The call follows:
// alice's RTP moves to a port on the new address and a re-INVITE tells
// bob, who then sends there; bob hears alice from the new address; the
// call stays up, a held call held, and bob's BYE still reaches alice. In
// a network namespace of the test's own, over UDP, TCP and TLS (SRTP).
func TestIntegrationCallFollowsMove(t *testing.T) {
	k := netnsKamailio(t)
	if k == nil {
		return // ran in its namespace
	}
	// TLS too: its calls are SRTP, whose contexts the moved stream keeps.
	for _, tp := range []string{"udp", "tcp", "tls"} {
		for _, held := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/held=%v", tp, held), func(t *testing.T) {
				callFollowsMove(t, k, tp, held)
			})
		}
	}
}

func callFollowsMove(t *testing.T, k *lab.KamailioServer, tp string, held bool) {
	t.Cleanup(func() {
		routeFrom(t, "127.0.0.1")
	})
	alice := newPhone(t, k, "alice", "secret1", tp, func(c *softphone.Config) { c.KeepAlive = 200 * time.Millisecond })
	bob := newPhone(t, k, "bob", "secret2", tp, func(c *softphone.Config) { c.ListenIP = "127.0.0.1" })
	require.NoError(t, alice.Start(t.Context()))
	require.NoError(t, bob.Start(t.Context()))
	require.Equal(t, "127.0.0.1", host(t, alice.SIPAddr()))

	bc, ac := dialAnswered(t, bob, alice, "alice", nil, nil)
	// Media both ways before the move.
	require.Eventually(t, func() bool {
		return ac.Stats().PacketsReceived > 10 && bc.Stats().PacketsReceived > 10
	}, 5*time.Second, 20*time.Millisecond)
	want, wantBob := softphone.CallActive, softphone.CallActive
	if held {
		require.NoError(t, ac.Hold(t.Context()))
		want, wantBob = softphone.CallHeld, softphone.CallRemoteHeld
		require.Eventually(t, func() bool { return bc.State() == wantBob }, 5*time.Second, 20*time.Millisecond)
	}
	assert.Equal(t, tp == "tls", ac.Stats().SRTP)
	before := ac.Stats().LocalAddr
	require.Equal(t, "127.0.0.1", before.Addr().String())
	reinvites := bob.Health().Counters["reinvites_received"]

	routeFrom(t, "127.0.0.2")
	moved := time.Now()
	ev := nextMove(t, alice)
	t.Logf("the call followed the move %v after the route changed", time.Since(moved).Round(time.Millisecond))
	require.Same(t, ac, ev.Call)
	assert.Equal(t, "127.0.0.2", host(t, alice.SIPAddr()))
	assert.Equal(t, "127.0.0.2", ev.Media.Addr().String())
	assert.Equal(t, ev.Media, ac.Stats().LocalAddr, "alice sends from where her offer says")
	assert.NotEqual(t, before, ev.Media)
	// The re-INVITE reached bob, who now sends to the new address.
	assert.Equal(t, reinvites+1, bob.Health().Counters["reinvites_received"])
	assert.Equal(t, int64(1), alice.Health().Counters["calls_moved"])

	// Bob hears alice from her new address: his stream latches on to where
	// her packets come from, so a packet from the old one would show.
	bobGot := bc.Stats().PacketsReceived
	require.Eventually(t, func() bool { return bc.Stats().PacketsReceived >= bobGot+25 }, 5*time.Second, 20*time.Millisecond,
		"bob receives alice's RTP after the move")
	assert.Equal(t, ev.Media, bc.Stats().RemoteAddr, "bob's RTP goes to, and alice's comes from, her new address")
	if !held {
		// Only alice's new port feeds her stream now: what it counts
		// arrived at the new address.
		aliceGot := ac.Stats().PacketsReceived
		require.Eventually(t, func() bool { return ac.Stats().PacketsReceived >= aliceGot+25 }, 5*time.Second, 20*time.Millisecond,
			"alice receives bob's RTP at her new address")
	}
	assert.Equal(t, want, ac.State())
	assert.Equal(t, wantBob, bc.State())

	if !held {
		// And back: the call moves again, now from a port of its own.
		routeFrom(t, "127.0.0.1")
		back := nextMove(t, alice)
		require.Same(t, ac, back.Call)
		assert.Equal(t, "127.0.0.1", back.Media.Addr().String())
		assert.Equal(t, back.Media, ac.Stats().LocalAddr)
		aliceGot, bobGot := ac.Stats().PacketsReceived, bc.Stats().PacketsReceived
		require.Eventually(t, func() bool {
			return ac.Stats().PacketsReceived >= aliceGot+25 && bc.Stats().PacketsReceived >= bobGot+25
		}, 5*time.Second, 20*time.Millisecond, "media both ways after moving back")
		assert.Equal(t, back.Media, bc.Stats().RemoteAddr)
		assert.Zero(t, ac.Stats().DecryptFailures)
		assert.Zero(t, bc.Stats().DecryptFailures)
		assert.Equal(t, softphone.CallActive, ac.State())
		assert.Equal(t, softphone.CallActive, bc.State())
	}

	// Bob's BYE goes to alice's new Contact (the re-INVITE refreshed it).
	require.NoError(t, bc.Hangup(t.Context()))
	select {
	case <-ac.Done():
		assert.NoError(t, ac.Err())
	case <-time.After(5 * time.Second):
		t.Fatal("alice's call did not end after bob's BYE")
	}
	require.NoError(t, alice.Shutdown(t.Context()))
	require.NoError(t, bob.Shutdown(t.Context()))
}

// nextMove waits for alice's next CallMoved, failing on a CallMoveFailed.
func nextMove(t *testing.T, p *testPhone) softphone.CallMoved {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for {
		select {
		case e := <-p.events:
			switch e := e.(type) {
			case softphone.CallMoved:
				return e
			case softphone.CallMoveFailed:
				t.Fatalf("the call did not follow the move: %v", e.Err)
			}
		case <-ctx.Done():
			t.Fatal("no CallMoved within 5 s of the route change")
			return softphone.CallMoved{}
		}
	}
}

func host(t *testing.T, hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	require.NoError(t, err)
	return h
}

// contactHosts asks the registrar for user's bindings (a REGISTER without
// Contact, RFC 3261 section 10.2.3) and returns the host of each contact.
func contactHosts(t *testing.T, registrar, user, password string) []string {
	t.Helper()
	c, err := net.Dial("udp", registrar)
	require.NoError(t, err)
	defer c.Close()
	local := c.LocalAddr().String()
	send := func(cseq, auth string) string {
		req := "REGISTER sip:example.test SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-query-" + cseq + ";rport\r\n" +
			"Max-Forwards: 70\r\nFrom: <sip:" + user + "@example.test>;tag=query\r\nTo: <sip:" + user + "@example.test>\r\n" +
			"Call-ID: bindings-query-" + local + "\r\nCSeq: " + cseq + " REGISTER\r\n" + auth + "Content-Length: 0\r\n\r\n"
		_, err := c.Write([]byte(req))
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		buf := make([]byte, 8192)
		n, err := c.Read(buf)
		require.NoError(t, err)
		return string(buf[:n])
	}
	res := send("1", "")
	var challenge string
	for line := range strings.SplitSeq(res, "\r\n") {
		if name, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "WWW-Authenticate") {
			challenge = strings.TrimSpace(v)
		}
	}
	require.NotEmpty(t, challenge, "no challenge: %s", res)
	ch, err := digest.Parse(challenge)
	require.NoError(t, err)
	auth, err := digest.Answer(ch, digest.Credentials{Username: user, Password: password}, "REGISTER", "sip:example.test", 1)
	require.NoError(t, err)
	res = send("2", "Authorization: "+auth+"\r\n")
	require.True(t, strings.HasPrefix(res, "SIP/2.0 200"), res)
	var hosts []string
	for line := range strings.SplitSeq(res, "\r\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok || (!strings.EqualFold(name, "Contact") && !strings.EqualFold(name, "m")) {
			continue
		}
		for c := range strings.SplitSeq(v, ",") {
			_, rest, _ := strings.Cut(c, "@")
			h, _, _ := strings.Cut(rest, ":")
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// TestIntegrationCallMoveFails: bob's phone is gone (closed without a BYE
// or an unregistration) when alice moves, so kamailio cannot deliver her
// re-INVITE. The failure is published and the call ends with
// ErrMoveFailed rather than staying up without a far end. TCP: kamailio
// then learns at once that bob's port is closed; over UDP it would wait
// out its transaction timer.
func TestIntegrationCallMoveFails(t *testing.T) {
	k := netnsKamailio(t)
	if k == nil {
		return // ran in its namespace
	}
	t.Cleanup(func() {
		routeFrom(t, "127.0.0.1")
	})
	alice := newPhone(t, k, "alice", "secret1", "tcp", func(c *softphone.Config) { c.KeepAlive = 200 * time.Millisecond })
	bob := newPhone(t, k, "bob", "secret2", "tcp", func(c *softphone.Config) { c.ListenIP = "127.0.0.1" })
	require.NoError(t, alice.Start(t.Context()))
	require.NoError(t, bob.Start(t.Context()))
	ac, _ := dialAnswered(t, alice, bob, "bob", nil, nil)
	require.NoError(t, bob.Close())

	routeFrom(t, "127.0.0.2")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var failures []softphone.CallMoveFailed
	for len(failures) == 0 || failures[len(failures)-1].Retrying {
		select {
		case e := <-alice.events:
			switch e := e.(type) {
			case softphone.CallMoveFailed:
				require.Same(t, ac, e.Call)
				t.Logf("move failed (retrying %v): %v", e.Retrying, e.Err)
				failures = append(failures, e)
			case softphone.CallMoved:
				t.Fatal("the call moved although bob is gone")
			}
		case <-ctx.Done():
			t.Fatalf("no final CallMoveFailed within 30 s; got %d", len(failures))
		}
	}
	assert.LessOrEqual(t, len(failures), 3, "three tries at most")
	select {
	case <-ac.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not end after the move failed")
	}
	assert.ErrorIs(t, ac.Err(), softphone.ErrMoveFailed)
	assert.Equal(t, softphone.CallEnded, ac.State())
	assert.Equal(t, int64(len(failures)), alice.Health().Counters["call_moves_failed"])
	require.NoError(t, alice.Shutdown(t.Context()))
}
