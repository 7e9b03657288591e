package voicemail

import (
	"errors"
	"net"
	"os"
	"time"
)

// A listing is one response of several megabytes that the server writes
// about as fast as the client reads it. Read naively, every wake-up of the
// reader finds a few kilobytes, and the wake-ups (a failed read, the
// poller, the scheduler) cost more CPU than decrypting and parsing them.
// bulkConn sits between crypto/tls and the TCP socket and batches: it
// reads into a large buffer, so one system call takes everything queued,
// and during a bulk response it asks the kernel (SO_RCVLOWAT, where the
// platform has it) to wake the reader only once bulkLowWater bytes are
// queued. The end of a response is usually smaller than that: a read that
// waits longer than bulkTailWait for the low-water mark takes whatever has
// arrived, and halves the mark (down to bulkMinLowWater) until a read
// meets it in time again, which doubles it back: a server writing slowly
// (reading message bodies from disk, say) would otherwise cost a timeout
// per read. The buffer exists only during a bulk response: a session kept
// open for re-syncs would otherwise hold it for its whole life.

const (
	bulkBuffer   = 256 << 10
	bulkLowWater = 32 << 10
	bulkTailWait = time.Millisecond

	bulkMinLowWater = 4 << 10
)

// bulkConn batches reads from a TCP connection; see above. Its Read is
// for one goroutine at a time (crypto/tls serialises reads).
type bulkConn struct {
	*net.TCPConn
	buf  []byte
	r, w int
	bulk bool // low-water mark set
	// buffered is true from setBulk(true) to setBulk(false); buf is
	// dropped once it is drained after that.
	buffered bool
	mark     int // the low-water mark in bulk mode
	lowWat   lowWater
}

func newBulkConn(c *net.TCPConn) *bulkConn {
	return &bulkConn{TCPConn: c, lowWat: lowWaterFor(c)}
}

// setBulk turns batching of wake-ups on for a bulk response, or off.
// Without SO_RCVLOWAT only the large buffer remains.
func (c *bulkConn) setBulk(on bool) {
	c.buffered = on
	if on && c.buf == nil {
		c.buf = make([]byte, bulkBuffer)
	}
	if on == c.bulk || c.lowWat == nil {
		return
	}
	if on {
		if c.lowWat(bulkLowWater) != nil {
			return
		}
		c.mark = bulkLowWater
	}
	if !on {
		_ = c.lowWat(1)
		_ = c.TCPConn.SetReadDeadline(time.Time{})
	}
	c.bulk = on
}

func (c *bulkConn) Read(b []byte) (int, error) {
	if c.r == c.w {
		if !c.buffered {
			c.buf, c.r, c.w = nil, 0, 0
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

// read reads from the socket, at the low-water mark in bulk mode with a
// deadline for the tail of the response.
func (c *bulkConn) read(b []byte) (int, error) {
	if !c.bulk {
		return c.TCPConn.Read(b)
	}
	if err := c.TCPConn.SetReadDeadline(time.Now().Add(bulkTailWait)); err != nil {
		return 0, err
	}
	n, err := c.TCPConn.Read(b)
	if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		if n >= c.mark && c.mark < bulkLowWater {
			c.mark *= 2
			if c.lowWat(c.mark) != nil {
				c.bulk = false
			}
		}
		return n, err
	}
	// The tail: take what has arrived, then wait for more at any size.
	if err := c.lowWat(1); err != nil {
		return 0, err
	}
	if err := c.TCPConn.SetReadDeadline(time.Time{}); err != nil {
		return 0, err
	}
	n, err = c.TCPConn.Read(b)
	c.mark = max(c.mark/2, bulkMinLowWater)
	if lerr := c.lowWat(c.mark); lerr != nil && err == nil {
		c.bulk = false
	}
	return n, err
}

// lowWater sets the socket's receive low-water mark.
type lowWater func(n int) error
