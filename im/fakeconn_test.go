package im

import (
	"bytes"
	"github.com/opencsf/opencsf/config"
	"net"
	"time"
)

// fakeConn is a net.Conn reading from a buffer, for limitConn.
type fakeConn struct{ r *bytes.Buffer }

func (f fakeConn) Read(p []byte) (int, error)       { return f.r.Read(p) }
func (f fakeConn) Write(p []byte) (int, error)      { return len(p), nil }
func (f fakeConn) Close() error                     { return nil }
func (f fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (f fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (f fakeConn) SetDeadline(time.Time) error      { return nil }
func (f fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (f fakeConn) SetWriteDeadline(time.Time) error { return nil }

func configSecret(s string) config.Secret { return config.Secret(s) }
