package voicemail

import (
	"net"
	"syscall"
)

// lowWaterFor returns a setter of SO_RCVLOWAT for c: Linux honours it in
// poll and epoll, so the reader sleeps until that much is queued (or the
// receive window is nearly full, which rules out a stall).
func lowWaterFor(c *net.TCPConn) lowWater {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	return func(n int) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
		})
		if err != nil {
			return err
		}
		return serr
	}
}
