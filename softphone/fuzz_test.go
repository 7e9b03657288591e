package softphone

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzSIPValues feeds the header values and bodies we parse ourselves:
// Session-Expires, message/sipfrag, a Refer-To with Replaces, a=crypto and
// a=rtpmap. Each parser either refuses or returns values within range, and
// what we format from a parsed value parses back the same.
func FuzzSIPValues(f *testing.F) {
	f.Add("1800;refresher=uac", "SIP/2.0 200 OK\r\n", "sip:carol@example.test?Replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2",
		"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32", "101 telephone-event/8000")
	f.Add("x", "SIP/2.0 9999", "?", "1 X inline:", "0 PCMU")
	f.Fuzz(func(t *testing.T, se, frag, referTo, crypto, rtpmap string) {
		if d, who, ok := sessionExpires(sip.NewHeader("Session-Expires", se)); ok {
			assert.Positive(t, d)
			assert.Equal(t, strings.ToLower(who), who)
		}
		if code := sipfragCode(frag); code != 0 {
			assert.True(t, code >= 100 && code <= 699)
		}
		if uri, _, err := splitReplaces(referTo); err == nil {
			assert.NotContains(t, uri, "?")
		}
		if c, ok := parseCrypto(crypto); ok && len(c.key) == 30 {
			back, ok := parseCrypto(c.value())
			require.True(t, ok)
			assert.Equal(t, c, back)
		}
		if pt, name, rate, ok := parseRTPMap(rtpmap); ok {
			assert.LessOrEqual(t, pt, uint8(127))
			assert.NotEmpty(t, name)
			_ = rate
		}
	})
}
