package im

// dedupKey identifies a message: by sender and id, or by archive id
// (peer empty). A struct key, not a joined string: checking a message
// costs no allocation.
type dedupKey struct {
	peer, id string
	archive  bool
}

// dedup remembers the last n keys (message ids, archive ids) in a ring
// that grows as keys come, so that an idle session costs nothing.
type dedup struct {
	set  map[dedupKey]struct{}
	ring []dedupKey
	n    int
	next int
}

func newDedup(n int) *dedup { return &dedup{n: n} }

func (d *dedup) has(k dedupKey) bool {
	_, ok := d.set[k]
	return ok
}

func (d *dedup) add(k dedupKey) {
	if d.set == nil {
		d.set = make(map[dedupKey]struct{})
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
