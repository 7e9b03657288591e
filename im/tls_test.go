package im_test

import (
	"crypto/tls"
	"sync"
	"testing"

	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/require"
)

// tlsEndpoint listens on loopback with TLS presenting leaf and closes each
// connection after the handshake.
func tlsEndpoint(t *testing.T, leaf *lab.Leaf) string {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf.TLS}})
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}
