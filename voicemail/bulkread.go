package voicemail

import (
	"net"
	"sync"
	"syscall"
	"time"
)

// A listing is one response of several megabytes that the server writes
// about as fast as the client reads it. Read naively, every wake-up of the
// reader finds a few kilobytes, and the wake-ups cost more CPU than
// decrypting and parsing what they find: the goroutine parks in Go's
// poller, the scheduler's threads sleep and wake, and the runtime's
// monitor thread, which naps for 20 µs at a time whenever the process
// comes back from idle, is woken again every time.
//
// bulkConn sits between crypto/tls and the TCP socket and batches. It
// reads into a large buffer, so one system call takes everything queued.
// During a bulk response, where the platform allows (bulkread_linux.go),
// it asks the kernel to queue bulkLowWater bytes before waking the reader
// (SO_RCVLOWAT), and the reader waits for them inside a system call rather
// than in Go's poller, for at most bulkTailWait: whatever has arrived by
// then is taken, which is how the response's tail, shorter than the mark,
// is read. The buffer exists only during a bulk response: a session kept
// open for re-syncs would otherwise hold it for its whole life.

const (
	bulkBuffer   = 1 << 20
	bulkLowWater = 256 << 10
	// bulkTailWait is how long a bulk read waits in the kernel for the
	// low-water mark before it takes what has arrived.
	bulkTailWait = time.Millisecond
)

// bulkConn batches reads from a TCP connection; see above. Its Read is
// for one goroutine at a time (crypto/tls serialises reads).
type bulkConn struct {
	*net.TCPConn
	raw  syscall.RawConn // nil where the kernel wait is not available
	buf  []byte
	r, w int
	bulk bool // reads wait in the kernel for the low-water mark
	// buffered is true from setBulk(true) to setBulk(false); buf is
	// dropped once it is drained after that.
	buffered bool
	lowered  bool // the low-water mark is down to 1 while Go's poller waits
}

// bulkBuffers holds the buffers of finished bulk responses for the next
// one, of any session: a listing then costs no megabyte of garbage, and a
// session that stays open for re-syncs holds none.
var bulkBuffers = sync.Pool{New: func() any { b := make([]byte, bulkBuffer); return &b }}

// setBulk turns batching on for a bulk response, or off.
func (c *bulkConn) setBulk(on bool) {
	c.buffered = on
	if on && c.buf == nil {
		c.buf = *bulkBuffers.Get().(*[]byte)
	}
	if !on && c.r == c.w {
		c.release() // all read: nothing left for later reads
	}
	if c.raw == nil || on == c.bulk {
		return
	}
	mark := 1
	if on {
		mark = bulkLowWater
	}
	c.bulk = c.setLowWater(mark) == nil && on
	c.lowered = false
}

func (c *bulkConn) Read(b []byte) (int, error) {
	if c.r == c.w {
		if !c.buffered {
			c.release()
		}
		if len(b) >= len(c.buf) {
			return c.read(b)
		}
		n, err := c.read(c.buf)
		c.r, c.w = 0, n
		if n == 0 {
			return 0, err
		}
	}
	n := copy(b, c.buf[c.r:c.w])
	c.r += n
	return n, nil
}

// release gives the drained buffer back to bulkBuffers.
func (c *bulkConn) release() {
	if b := c.buf; b != nil {
		bulkBuffers.Put(&b)
	}
	c.buf, c.r, c.w = nil, 0, 0
}

func (c *bulkConn) read(b []byte) (int, error) {
	if !c.bulk {
		return c.TCPConn.Read(b)
	}
	return c.kernelRead(b)
}
