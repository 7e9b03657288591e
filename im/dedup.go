package im

// dedup remembers the last n keys (message ids, archive ids) in a ring.
type dedup struct {
	set  map[string]struct{}
	ring []string
	next int
}

func newDedup(n int) *dedup {
	return &dedup{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

func (d *dedup) has(k string) bool {
	_, ok := d.set[k]
	return ok
}

func (d *dedup) add(k string) {
	if old := d.ring[d.next]; old != "" {
		delete(d.set, old)
	}
	d.ring[d.next] = k
	d.set[k] = struct{}{}
	d.next = (d.next + 1) % len(d.ring)
}
