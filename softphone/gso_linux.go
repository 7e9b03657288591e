package softphone

import (
	"encoding/binary"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// gsoMaxSegments is the most datagrams one UDP_SEGMENT send may carry
// (UDP_MAX_SEGMENTS in kernels from 4.18 on).
const gsoMaxSegments = 64

// gsoSupported reports whether the kernel takes UDP_SEGMENT (Linux 4.18+)
// on c: one sendmsg then carries many equal-sized datagrams to one
// address, which the kernel (or the NIC) cuts apart.
func gsoSupported(c *net.UDPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	_ = rc.Control(func(fd uintptr) {
		_, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		ok = err == nil
	})
	return ok
}

// gsoControlLen is the room a UDP_SEGMENT control message takes.
var gsoControlLen = unix.CmsgSpace(2)

// putGSOControl writes into b (gsoControlLen bytes) the control message
// that asks the kernel to cut the payload into size-byte datagrams.
func putGSOControl(b []byte, size int) {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(size))
}
