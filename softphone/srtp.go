package softphone

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/srtp/v3"
)

// SRTPPolicy says when calls use SRTP with SDES keys (RFC 4568).
type SRTPPolicy int

// SRTP policies. SDES carries the keys inside the SDP, so they are only
// as secret as the signalling: SRTPAuto uses SRTP exactly when the
// signalling is TLS.
const (
	SRTPAuto     SRTPPolicy = iota // SRTP over TLS signalling, plain RTP otherwise
	SRTPOff                        // never offer SRTP; refuse offers of it
	SRTPRequired                   // offer only SRTP and refuse calls without it (needs TLS)
)

// sdesSuites are the crypto suites we accept, in our preference order.
var sdesSuites = map[string]srtp.ProtectionProfile{
	"AES_CM_128_HMAC_SHA1_80": srtp.ProtectionProfileAes128CmHmacSha1_80,
	"AES_CM_128_HMAC_SHA1_32": srtp.ProtectionProfileAes128CmHmacSha1_32,
}

// sdesCrypto is one a=crypto line: tag, suite and the master key and salt
// (16 + 14 bytes for the AES_CM_128 suites).
type sdesCrypto struct {
	tag   int
	suite string
	key   []byte
}

// String formats the attribute value. It holds the key: it goes into SDP
// and nowhere else, never into a log.
func (c sdesCrypto) value() string {
	return fmt.Sprintf("%d %s inline:%s", c.tag, c.suite, base64.StdEncoding.EncodeToString(c.key))
}

func newCrypto(tag int, suite string) (sdesCrypto, error) {
	key := make([]byte, 30)
	if _, err := rand.Read(key); err != nil {
		return sdesCrypto{}, fmt.Errorf("softphone: srtp key: %w", err)
	}
	return sdesCrypto{tag: tag, suite: suite, key: key}, nil
}

// parseCrypto reads "1 AES_CM_128_HMAC_SHA1_80 inline:KEY[|lifetime][|MKI:len]".
func parseCrypto(v string) (sdesCrypto, bool) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return sdesCrypto{}, false
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 || tag > 999999999 {
		return sdesCrypto{}, false
	}
	inline, ok := strings.CutPrefix(f[2], "inline:")
	if !ok {
		return sdesCrypto{}, false
	}
	inline, _, _ = strings.Cut(inline, "|")
	key, err := base64.StdEncoding.DecodeString(inline)
	if err != nil {
		if key, err = base64.RawStdEncoding.DecodeString(inline); err != nil {
			return sdesCrypto{}, false
		}
	}
	if _, known := sdesSuites[f[1]]; !known || len(key) != 30 {
		// Unknown suites are skipped by the chooser; keep them out here.
		return sdesCrypto{tag: tag, suite: f[1]}, true
	}
	return sdesCrypto{tag: tag, suite: f[1], key: key}, true
}

// chooseCrypto picks the first offered crypto line we support.
func chooseCrypto(offered []sdesCrypto) (sdesCrypto, bool) {
	for _, c := range offered {
		if _, ok := sdesSuites[c.suite]; ok && len(c.key) == 30 {
			return c, true
		}
	}
	return sdesCrypto{}, false
}

// srtpContexts makes the encrypting context from our key and the
// decrypting one from theirs.
func srtpContexts(local, remote sdesCrypto) (out, in *srtp.Context, err error) {
	prof, ok := sdesSuites[local.suite]
	if !ok {
		return nil, nil, fmt.Errorf("softphone: srtp suite %q", local.suite)
	}
	if out, err = srtp.CreateContext(local.key[:16], local.key[16:], prof); err != nil {
		return nil, nil, fmt.Errorf("softphone: srtp: %w", err)
	}
	if in, err = srtp.CreateContext(remote.key[:16], remote.key[16:], prof, srtp.SRTPReplayProtection(128)); err != nil {
		return nil, nil, fmt.Errorf("softphone: srtp: %w", err)
	}
	return out, in, nil
}
