//go:build !linux

package voicemail

import "net"

// newBulkConn wraps c. Other systems' pollers do not all honour
// SO_RCVLOWAT, so only the large read buffer batches there.
func newBulkConn(c *net.TCPConn) *bulkConn { return &bulkConn{TCPConn: c} }

func (c *bulkConn) kernelRead(b []byte) (int, error) { return c.TCPConn.Read(b) }

func (c *bulkConn) setLowWater(int) error { return nil }
