package im

import "hash/maphash"

// dedup remembers the last n messages seen (by sender and id, or by
// archive id) in a ring that grows as they come, so that an idle session
// costs nothing.
//
// It keeps 64-bit keyed hashes, not the strings: a uint64 map is several
// times cheaper to probe on the path of every message, and holds no
// reference to the messages' strings. Two different messages collide with
// a probability of about n/2^64 (n = 4096): the seed is random per client,
// so a sender cannot aim for a collision.
type dedup struct {
	seed maphash.Seed
	set  map[uint64]struct{}
	ring []uint64
	n    int
	next int
}

func newDedup(n int) *dedup { return &dedup{n: n, seed: maphash.MakeSeed()} }

// key hashes a message id from peer (bare JID), or an archive id when
// archive is true.
func (d *dedup) key(peer, id string, archive bool) uint64 {
	var h maphash.Hash
	h.SetSeed(d.seed)
	if archive {
		h.WriteByte(1)
	} else {
		h.WriteByte(0)
		h.WriteString(peer)
		h.WriteByte(0)
	}
	h.WriteString(id)
	return h.Sum64()
}

func (d *dedup) has(k uint64) bool {
	_, ok := d.set[k]
	return ok
}

func (d *dedup) add(k uint64) {
	if d.set == nil {
		d.set = make(map[uint64]struct{})
	}
	if len(d.ring) < d.n {
		d.ring = append(d.ring, k)
		d.set[k] = struct{}{}
		return
	}
	delete(d.set, d.ring[d.next])
	d.ring[d.next] = k
	d.set[k] = struct{}{}
	d.next = (d.next + 1) % d.n
}
