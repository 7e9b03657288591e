package voicemail

import (
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// newBulkConn wraps c. Linux honours SO_RCVLOWAT in poll, so a read can
// sleep in the kernel until that much is queued (or the receive window is
// nearly full, which rules out a stall).
func newBulkConn(c *net.TCPConn) *bulkConn {
	bc := &bulkConn{TCPConn: c}
	if raw, err := c.SyscallConn(); err == nil {
		bc.raw = raw
	}
	return bc
}

// kernelRead waits in ppoll, a system call, for the low-water mark or
// bulkTailWait, then reads what is queued. A thread blocked in a system
// call keeps its P, so the scheduler and its monitor stay asleep, where a
// goroutine parked in Go's poller wakes them both. When nothing at all
// arrived in bulkTailWait (the server paused), the mark goes down to one
// byte and the wait goes to Go's poller, which honours deadlines and
// Close; the mark comes back with the next data.
func (c *bulkConn) kernelRead(b []byte) (int, error) {
	var n int
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
		if c.lowered {
			if rerr = setLowWaterFD(fd, bulkLowWater); rerr != nil {
				return true
			}
			c.lowered = false
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		ts := unix.NsecToTimespec(int64(bulkTailWait))
		for {
			_, perr := unix.Ppoll(fds, &ts, nil)
			if perr != unix.EINTR {
				break // an error shows again in the read
			}
		}
		n, rerr = ignoringEINTR(func() (int, error) { return unix.Read(int(fd), b) })
		if rerr == unix.EAGAIN {
			if rerr = setLowWaterFD(fd, 1); rerr != nil {
				return true
			}
			c.lowered = true
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, os.NewSyscallError("read", rerr)
	case n == 0 && len(b) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// setLowWater sets the socket's receive low-water mark.
func (c *bulkConn) setLowWater(n int) error {
	var serr error
	err := c.raw.Control(func(fd uintptr) { serr = setLowWaterFD(fd, n) })
	if err != nil {
		return err
	}
	return serr
}

func setLowWaterFD(fd uintptr, n int) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT, n)
}

func ignoringEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != unix.EINTR {
			return n, err
		}
	}
}
