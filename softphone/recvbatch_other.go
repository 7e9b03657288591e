//go:build !linux

package softphone

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
)

// xnetReader reads through golang.org/x/net's ReadBatch: one datagram a
// system call outside Linux, and a net.UDPAddr allocated per datagram.
type xnetReader struct {
	c    batchConn
	msgs []ipv4.Message
}

func newBatchReader(c *net.UDPConn, ds []datagram) (batchReader, error) {
	r := &xnetReader{c: newBatchConn(c), msgs: make([]ipv4.Message, len(ds))}
	for i := range ds {
		r.msgs[i].Buffers = [][]byte{ds[i].buf}
	}
	return r, nil
}

func (r *xnetReader) readBatch(ds []datagram) (int, error) {
	n, err := r.c.ReadBatch(r.msgs, 0)
	if err != nil {
		return 0, err
	}
	for i := range n {
		ds[i].n = -1
		if a, ok := r.msgs[i].Addr.(*net.UDPAddr); ok {
			ap := a.AddrPort()
			ds[i].n, ds[i].from = r.msgs[i].N, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
	}
	return n, nil
}
