package softphone

import "net/netip"

// datagram is one slot of a batched read: buf is its buffer, n the length
// received (-1: nothing usable in this slot), from the sender.
type datagram struct {
	buf  []byte
	n    int
	from netip.AddrPort
}

// batchReader reads many datagrams with one system call where the OS
// has one (recvmmsg on Linux).
type batchReader interface {
	// readBatch fills ds[:n] and returns n.
	readBatch(ds []datagram) (int, error)
}
