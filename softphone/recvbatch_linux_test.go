package softphone

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The batch reader reports each datagram's sender as the kernel gave it,
// over IPv4 and IPv6.
func TestBatchReaderSources(t *testing.T) {
	for _, ip := range []string{"127.0.0.1", "::1"} {
		t.Run(ip, func(t *testing.T) {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
			if err != nil {
				skipOrFail(t, "no %s here: %v", ip, err)
			}
			defer c.Close()
			ds := datagrams(8)
			r, err := newBatchReader(c, ds)
			require.NoError(t, err)
			var senders []netip.AddrPort
			for i := range 3 {
				s, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
				require.NoError(t, err)
				defer s.Close()
				_, err = s.WriteToUDP([]byte{byte(i), 1, 2}, c.LocalAddr().(*net.UDPAddr))
				require.NoError(t, err)
				senders = append(senders, unmapped(s.LocalAddr().(*net.UDPAddr).AddrPort()))
			}
			var got []netip.AddrPort
			for len(got) < 3 {
				n, err := r.readBatch(ds)
				require.NoError(t, err)
				for _, d := range ds[:n] {
					require.Equal(t, 3, d.n)
					assert.Equal(t, senders[d.buf[0]], d.from)
					got = append(got, d.from)
				}
			}
			assert.ElementsMatch(t, senders, got)
		})
	}
}
