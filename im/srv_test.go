package im

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSRV answers SRV lookups from a table and records what was asked.
type fakeSRV struct {
	records map[string][]*net.SRV // by service
	asked   []string
}

func (f *fakeSRV) lookup(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	f.asked = append(f.asked, "_"+service+"._"+proto+"."+name)
	if rr, ok := f.records[service]; ok {
		return "", rr, nil
	}
	return "", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func TestEndpoints(t *testing.T) {
	tests := []struct {
		name    string
		server  string
		records map[string][]*net.SRV
		want    []endpoint
		asked   int
	}{
		{"configured server, no lookup", "10.0.0.1:5222", nil, []endpoint{{"10.0.0.1:5222", false}}, 0},
		{"no records: the domain on 5222", "", nil, []endpoint{{"example.test:5222", false}}, 2},
		{"direct TLS first (XEP-0368)", "", map[string][]*net.SRV{
			"xmpp-client":  {{Target: "c2s.example.test.", Port: 5222}},
			"xmpps-client": {{Target: "tls.example.test.", Port: 5223}},
		}, []endpoint{{"tls.example.test:5223", true}, {"c2s.example.test:5222", false}}, 2},
		{"a '.' target means not offered", "", map[string][]*net.SRV{
			"xmpps-client": {{Target: ".", Port: 0}},
			"xmpp-client":  {{Target: "c2s.example.test.", Port: 5222}},
		}, []endpoint{{"c2s.example.test:5222", false}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{JID: "alice@example.test", Password: "x", Server: tt.server})
			require.NoError(t, err)
			defer c.Close()
			f := &fakeSRV{records: tt.records}
			c.lookupSRV = f.lookup
			assert.Equal(t, tt.want, c.endpoints(t.Context()))
			assert.Len(t, f.asked, tt.asked)
		})
	}
}

// TestIntegrationSRV connects where the SRV records point: prosody's
// direct TLS port, verified as the JID's domain.
func TestIntegrationSRV(t *testing.T) {
	p := lab.Prosody(t, nil)
	host, port, err := net.SplitHostPort(p.TLSAddr)
	require.NoError(t, err)
	var portNum uint16
	for _, ch := range port {
		portNum = portNum*10 + uint16(ch-'0')
	}
	trust, err := csf.LoadTrust("", false)
	require.NoError(t, err)
	require.NoError(t, trust.AddPEM(p.CA().CertPEM()))
	c, err := New(Config{JID: "alice@" + lab.Domain, Password: "secret1", Trust: trust})
	require.NoError(t, err)
	defer c.Close()
	f := &fakeSRV{records: map[string][]*net.SRV{"xmpps-client": {{Target: host + ".", Port: portNum}}}}
	c.lookupSRV = f.lookup
	require.NoError(t, c.Start(t.Context()))
	assert.Equal(t, p.TLSAddr, c.Health().Server)
	assert.Equal(t, []string{"_xmpps-client._tcp.example.test", "_xmpp-client._tcp.example.test"}, f.asked)
	require.NoError(t, c.Ping(t.Context()))
	assert.False(t, errors.Is(c.Close(), ErrClosed))
}
