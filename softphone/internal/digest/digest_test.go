package digest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChoose(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		alg    string
		err    error
	}{
		{"md5 only", []string{`Digest realm="example.test", nonce="n1", qop="auth"`}, "", nil},
		{"sha-256 preferred", []string{`Digest realm="r", nonce="a", algorithm=SHA-256, qop="auth"`, `Digest realm="r", nonce="b", algorithm=MD5, qop="auth"`}, "SHA-256", nil},
		{"md5 preferred", []string{`Digest realm="r", nonce="b", algorithm=MD5`, `Digest realm="r", nonce="a", algorithm=SHA-256`}, "MD5", nil},
		{"unsupported first", []string{`Digest realm="r", nonce="a", algorithm=SHA-512-256`, `Digest realm="r", nonce="b", algorithm=SHA-256`}, "SHA-256", nil},
		{"none supported", []string{`Digest realm="r", nonce="a", algorithm=SHA-512-256`}, "", ErrNoSupported},
		{"basic ignored", []string{`Basic realm="r"`, `Digest realm="r", nonce="x"`}, "", nil},
		{"malformed", []string{`Digest realm="r`}, "", ErrNoSupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Choose(tc.values)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.alg, c.Algorithm)
		})
	}
}

// TestAnswerRFC2617 checks the MD5 example of RFC 2617 section 3.5 (HTTP, but
// the computation is the same).
func TestAnswerKnown(t *testing.T) {
	c := &Challenge{Realm: "testrealm@host.com", Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", Opaque: "5ccc069c403ebaf9f0171e9517f40e41"}
	got, err := Answer(c, Credentials{"Mufasa", "Circle Of Life"}, "GET", "/dir/index.html", 1)
	require.NoError(t, err)
	// Without qop: response = MD5(HA1:nonce:HA2).
	assert.Contains(t, got, `response="670fd8c2df070c60b045671b8b24ff02"`)
	c.QOP = []string{"auth"}
	c.Algorithm = "SHA-256"
	got, err = Answer(c, Credentials{"Mufasa", "Circle Of Life"}, "GET", "/dir/index.html", 1)
	require.NoError(t, err)
	assert.Contains(t, got, "qop=auth")
	assert.Contains(t, got, "nc=00000001")
	assert.Contains(t, got, "algorithm=SHA-256")
	assert.Equal(t, 64, len(strings.SplitN(strings.SplitN(got, `response="`, 2)[1], `"`, 2)[0]))
}

func FuzzParse(f *testing.F) {
	f.Add(`Digest realm="example.test", nonce="abc", qop="auth,auth-int", algorithm=SHA-256, opaque="x\"y"`)
	f.Add(`Digest nonce=abc`)
	f.Fuzz(func(t *testing.T, v string) {
		c, err := Parse(v)
		if err != nil {
			return
		}
		// Property: a parsed challenge can be answered or refused cleanly, and the
		// answer quotes what it echoes so that it parses back.
		ans, err := Answer(c, Credentials{"u", "p"}, "REGISTER", "sip:example.test", 1)
		if err != nil {
			require.ErrorIs(t, err, ErrNoSupported)
			return
		}
		params, err := parseParams(strings.TrimPrefix(ans, "Digest "))
		require.NoError(t, err)
		assert.Equal(t, c.Nonce, params["nonce"])
		assert.Equal(t, c.Realm, params["realm"])
	})
}
