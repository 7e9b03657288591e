package voicemail

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tcpPair is a connected loopback TCP pair: bulkConn wraps a *net.TCPConn.
func tcpPair(t *testing.T) (client *net.TCPConn, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server = <-accepted
	require.NotNil(t, server)
	t.Cleanup(func() { c.Close(); server.Close() })
	return c.(*net.TCPConn), server
}

func TestBulkConnKeepsBytesAndDropsBufferAfterBulk(t *testing.T) {
	client, server := tcpPair(t)
	bc := newBulkConn(client)

	payload := bytes.Repeat([]byte("0123456789abcdef"), 40<<10) // 640 KiB
	go func() { _, _ = server.Write(append(payload, "tail"...)) }()

	bc.setBulk(true)
	got := make([]byte, len(payload))
	// Small reads, as crypto/tls makes them, through the large buffer.
	_, err := io.ReadFull(struct{ io.Reader }{bc}, got)
	require.NoError(t, err)
	assert.Equal(t, payload, got)
	assert.NotNil(t, bc.buf, "buffer in use during the bulk response")
	bc.setBulk(false)

	tail := make([]byte, 4)
	_, err = io.ReadFull(bc, tail)
	require.NoError(t, err)
	assert.Equal(t, "tail", string(tail))

	// Once drained after the bulk response, the next read drops the buffer.
	go func() { _, _ = server.Write([]byte("x")) }()
	one := make([]byte, 1)
	_, err = io.ReadFull(bc, one)
	require.NoError(t, err)
	assert.Equal(t, "x", string(one))
	assert.Nil(t, bc.buf, "an idle session must not keep the bulk buffer")
}
