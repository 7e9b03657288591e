package directory

import (
	"testing"
	"time"

	"github.com/opencsf/opencsf/lab"
)

// BenchmarkIntegrationLookup measures a lookup answered by slapd (the
// cache off) and one answered by the cache.
func BenchmarkIntegrationLookup(b *testing.B) {
	srv := lab.Slapd(b, nil)
	rules := `<DialRules><DialRule BeginsWith="+1408555" NumDigits="12" DigitsToRemove="8"/></DialRules>`
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"server", -1}, {"cache", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			d, err := New(Config{Server: srv.Addr, BaseDN: srv.BaseDN, Rules: newSet(b, rules), CacheTTL: bc.ttl})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Lookup(b.Context(), "+14085551002"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
