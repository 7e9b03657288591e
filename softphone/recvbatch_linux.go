package softphone

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockaddrLen is room for an IPv4 or IPv6 socket address.
const sockaddrLen = unix.SizeofSockaddrInet6

// mmsgReader reads datagrams with recvmmsg into fixed buffers and returns
// their sources as netip.AddrPort values: nothing is allocated per
// datagram (golang.org/x/net's ReadBatch makes a net.UDPAddr for each).
type mmsgReader struct {
	rc    syscall.RawConn
	hs    []unix.Mmsghdr
	iovs  []unix.Iovec
	names [][sockaddrLen]byte
	// The result of the last recvmmsg, set by recv.
	n     int
	errno syscall.Errno
	recv  func(fd uintptr) bool
}

func newBatchReader(c *net.UDPConn, ds []datagram) (batchReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &mmsgReader{rc: rc, hs: make([]unix.Mmsghdr, len(ds)), iovs: make([]unix.Iovec, len(ds)),
		names: make([][sockaddrLen]byte, len(ds))}
	for i := range ds {
		r.iovs[i].Base = &ds[i].buf[0]
		r.iovs[i].SetLen(len(ds[i].buf))
		r.hs[i].Hdr.Iov = &r.iovs[i]
		r.hs[i].Hdr.SetIovlen(1)
		r.hs[i].Hdr.Name = &r.names[i][0]
	}
	// Bound once, so a read allocates no closure.
	r.recv = func(fd uintptr) bool {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hs[0])), uintptr(len(r.hs)),
			unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false // wait for the poller
		}
		r.n, r.errno = int(n), e
		return true
	}
	return r, nil
}

func (r *mmsgReader) readBatch(ds []datagram) (int, error) {
	for i := range r.hs {
		r.hs[i].Hdr.Namelen = sockaddrLen
		r.hs[i].Hdr.Flags = 0
		r.hs[i].Len = 0
	}
	r.n, r.errno = 0, 0
	if err := r.rc.Read(r.recv); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, os.NewSyscallError("recvmmsg", r.errno)
	}
	for i := range r.n {
		d := &ds[i]
		d.n = -1
		if r.hs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
			continue // larger than any packet we take
		}
		if ap, ok := parseSockaddr(r.names[i][:min(int(r.hs[i].Hdr.Namelen), sockaddrLen)]); ok {
			d.n, d.from = int(r.hs[i].Len), ap
		}
	}
	return r.n, nil
}

// parseSockaddr reads a sockaddr_in or sockaddr_in6 (port in network
// order, family in host order).
func parseSockaddr(b []byte) (netip.AddrPort, bool) {
	if len(b) < 2 {
		return netip.AddrPort{}, false
	}
	port := func() uint16 { return binary.BigEndian.Uint16(b[2:4]) }
	switch binary.NativeEndian.Uint16(b[0:2]) {
	case unix.AF_INET:
		if len(b) < unix.SizeofSockaddrInet4 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port()), true
	case unix.AF_INET6:
		if len(b) < unix.SizeofSockaddrInet6 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])).Unmap(), port()), true
	}
	return netip.AddrPort{}, false
}
