package im

// dedup remembers the last n keys (message ids, archive ids) in a ring
// that grows as keys come, so that an idle session costs nothing.
type dedup struct {
	set  map[string]struct{}
	ring []string
	n    int
	next int
}

func newDedup(n int) *dedup { return &dedup{n: n} }

func (d *dedup) has(k string) bool {
	_, ok := d.set[k]
	return ok
}

func (d *dedup) add(k string) {
	if d.set == nil {
		d.set = make(map[string]struct{})
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
