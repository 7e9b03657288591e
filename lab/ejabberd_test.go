//go:build linux

package lab_test

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntegrationEjabberd(t *testing.T) {
	e := lab.Ejabberd(t, nil)
	assert.Equal(t, lab.Domain, e.Domain)

	// STARTTLS is offered and required on Addr.
	c, err := net.DialTimeout("tcp", e.Addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	conv := newConversation(t, c)
	conv.send(`<?xml version='1.0'?><stream:stream to='example.test' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`)
	conv.readUntil("<starttls")
	conv.send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
	conv.readUntil("<proceed")
	tc := tls.Client(c, e.CA().ClientTLS("example.test"))
	require.NoError(t, tc.Handshake())
	tconv := newConversation(t, tc)
	tconv.send(`<stream:stream to='example.test' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`)
	feats := tconv.readUntil("</stream:features>")
	assert.Contains(t, feats, "SCRAM-SHA-1")

	// Direct TLS on TLSAddr, verified against the lab CA.
	d, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", e.TLSAddr, e.CA().ClientTLS("example.test"))
	require.NoError(t, err)
	d.Close()

	// A restart keeps the registered users (the spool survives).
	require.NoError(t, e.Restart(t.Context()))
	c2, err := net.DialTimeout("tcp", e.Addr, 5*time.Second)
	require.NoError(t, err)
	c2.Close()
}
