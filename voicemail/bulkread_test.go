package voicemail

import (
	"bytes"
	"io"
	"net"
	"os"
	"testing"
	"time"

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

// A session kept open after a listing (for re-syncs) must not hold the
// bulk buffer until its next read: a response read to its end gives it
// back as the bulk response ends.
func TestBulkConnDropsDrainedBufferAtOnce(t *testing.T) {
	client, server := tcpPair(t)
	bc := newBulkConn(client)
	payload := bytes.Repeat([]byte("x"), 300<<10)
	go func() { _, _ = server.Write(payload) }()
	bc.setBulk(true)
	got := make([]byte, len(payload))
	_, err := io.ReadFull(struct{ io.Reader }{bc}, got)
	require.NoError(t, err)
	assert.NotNil(t, bc.buf)
	bc.setBulk(false)
	assert.Nil(t, bc.buf, "drained: given back when the bulk response ends")
	assert.Equal(t, payload, got)
	// The next bulk response gets a whole buffer again.
	bc.setBulk(true)
	assert.Len(t, bc.buf, bulkBuffer)
	bc.setBulk(false)
}

// readWithin reads into b from bc, failing the test instead of hanging
// when nothing comes: the deadline guards the test, it measures nothing.
func readWithin(t *testing.T, bc *bulkConn, b []byte) (int, error) {
	t.Helper()
	require.NoError(t, bc.SetReadDeadline(time.Now().Add(10*time.Second)))
	return bc.Read(b)
}

func TestBulkConnReadsTheTailAndAfterAPause(t *testing.T) {
	client, server := tcpPair(t)
	bc := newBulkConn(client)
	bc.setBulk(true)
	defer bc.setBulk(false)

	// A tail far shorter than the low-water mark still arrives.
	_, err := server.Write([]byte("short tail"))
	require.NoError(t, err)
	b := make([]byte, 64)
	n, err := readWithin(t, bc, b)
	require.NoError(t, err)
	assert.Equal(t, "short tail", string(b[:n]))

	// The server pauses longer than the tail wait, then sends a few bytes:
	// the read waits for them in Go's poller at a mark of one byte.
	go func() {
		time.Sleep(20 * bulkTailWait)
		_, _ = server.Write([]byte("later"))
	}()
	n, err = readWithin(t, bc, b)
	require.NoError(t, err)
	assert.Equal(t, "later", string(b[:n]))

	// And a bulk response after that is whole.
	payload := bytes.Repeat([]byte("voicemail"), 100<<10)
	go func() { _, _ = server.Write(payload) }()
	got := make([]byte, len(payload))
	require.NoError(t, bc.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.ReadFull(bc, got)
	require.NoError(t, err)
	assert.Equal(t, payload, got)
}

func TestBulkConnHonoursDeadlineAndClose(t *testing.T) {
	client, _ := tcpPair(t)
	bc := newBulkConn(client)
	bc.setBulk(true)

	require.NoError(t, bc.SetReadDeadline(time.Now().Add(30*time.Millisecond)))
	_, err := bc.Read(make([]byte, 8))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)

	require.NoError(t, bc.SetReadDeadline(time.Time{}))
	done := make(chan error, 1)
	go func() {
		_, err := bc.Read(make([]byte, 8))
		done <- err
	}()
	time.Sleep(20 * bulkTailWait)
	require.NoError(t, bc.Close())
	select {
	case err := <-done:
		assert.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a bulk read")
	}
}
