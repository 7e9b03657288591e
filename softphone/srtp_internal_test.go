package softphone

import (
	"testing"

	"github.com/pion/rtcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSRTCPRoundTrip(t *testing.T) {
	a, err := newCrypto(1, "AES_CM_128_HMAC_SHA1_80")
	require.NoError(t, err)
	b, err := newCrypto(1, "AES_CM_128_HMAC_SHA1_80")
	require.NoError(t, err)
	aOut, _, err := srtpContexts(a, b)
	require.NoError(t, err)
	_, bIn, err := srtpContexts(b, a)
	require.NoError(t, err)
	sr := &rtcp.SenderReport{SSRC: 42, NTPTime: 1 << 40, Reports: []rtcp.ReceptionReport{{SSRC: 7, LastSenderReport: 99}}}
	raw, err := sr.Marshal()
	require.NoError(t, err)
	enc, err := aOut.EncryptRTCP(nil, raw, nil)
	require.NoError(t, err)
	dec, err := bIn.DecryptRTCP(nil, enc, nil)
	require.NoError(t, err)
	pkts, err := rtcp.Unmarshal(dec)
	require.NoError(t, err)
	assert.Equal(t, uint32(42), pkts[0].(*rtcp.SenderReport).SSRC)

	// The attribute round-trips through SDP.
	c, ok := parseCrypto(a.value())
	require.True(t, ok)
	assert.Equal(t, a, c)
}
