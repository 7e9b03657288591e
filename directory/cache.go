package directory

import (
	"sync"
	"time"
)

// cache remembers answers by number: people for ttl, misses for neg.
type cache struct {
	ttl, neg time.Duration
	size     int

	mu      sync.Mutex // guards entries
	entries map[string]cacheEntry
}

type cacheEntry struct {
	person  *Person // nil for a miss
	expires time.Time
}

func newCache(ttl, neg time.Duration, size int) *cache {
	return &cache{ttl: ttl, neg: neg, size: size, entries: map[string]cacheEntry{}}
}

// get returns the cached answer for key: ok says whether there is one,
// found whether it is a person.
func (c *cache) get(key string, now time.Time) (p *Person, found, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, hit := c.entries[key]
	if !hit || !now.Before(e.expires) {
		return nil, false, false
	}
	return e.person, e.person != nil, true
}

func (c *cache) put(key string, p *Person, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.size {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries { // still full: drop any one
			if len(c.entries) < c.size {
				break
			}
			delete(c.entries, k)
		}
	}
	ttl := c.ttl
	if p == nil {
		ttl = c.neg
	}
	c.entries[key] = cacheEntry{person: p, expires: now.Add(ttl)}
}

// Flush forgets every cached answer, so that the next lookups ask the
// server: after the lookup rules changed, say.
func (d *Directory) Flush() {
	if d.cache == nil {
		return
	}
	d.cache.mu.Lock()
	clear(d.cache.entries)
	d.cache.mu.Unlock()
}
