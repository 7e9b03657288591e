// Package digest answers SIP digest challenges (RFC 3261 section 22.4,
// RFC 7616 as profiled by RFC 8760): MD5 and SHA-256 with qop=auth or no
// qop. A server may offer several challenges in preference order; [Choose]
// takes the first one whose algorithm is supported (RFC 8760 section 2.4).
package digest

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// ErrNoSupported is returned by Choose when no challenge uses an algorithm
// we support.
var ErrNoSupported = errors.New("digest: no challenge with a supported algorithm")

// ErrMalformed is returned for a challenge that cannot be parsed.
var ErrMalformed = errors.New("digest: malformed challenge")

// Challenge is one WWW-Authenticate or Proxy-Authenticate value.
type Challenge struct {
	Realm     string
	Nonce     string
	Opaque    string
	Algorithm string // as sent; empty means MD5
	QOP       []string
	Stale     bool
}

// Parse parses one challenge value ("Digest realm=…, nonce=…").
func Parse(v string) (*Challenge, error) {
	v = strings.TrimSpace(v)
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Digest") {
		return nil, fmt.Errorf("%w: scheme %q", ErrMalformed, scheme)
	}
	params, err := parseParams(rest)
	if err != nil {
		return nil, err
	}
	c := &Challenge{
		Realm:     params["realm"],
		Nonce:     params["nonce"],
		Opaque:    params["opaque"],
		Algorithm: params["algorithm"],
		Stale:     strings.EqualFold(params["stale"], "true"),
	}
	for q := range strings.SplitSeq(params["qop"], ",") {
		if q = strings.TrimSpace(q); q != "" {
			c.QOP = append(c.QOP, q)
		}
	}
	if c.Nonce == "" {
		return nil, fmt.Errorf("%w: no nonce", ErrMalformed)
	}
	return c, nil
}

// parseParams splits a comma-separated list of name=value or
// name="quoted value" pairs.
func parseParams(s string) (map[string]string, error) {
	m := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return m, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("%w: parameter without value", ErrMalformed)
		}
		name := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("%w: unterminated quoted string", ErrMalformed)
			}
			val, s = b.String(), s[i+1:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val, s = strings.TrimSpace(s[:end]), s[end:]
		}
		m[name] = val
	}
}

// Supported reports whether we can answer algorithm alg.
func Supported(alg string) bool {
	switch strings.ToUpper(alg) {
	case "", "MD5", "SHA-256":
		return true
	}
	return false
}

// Choose parses the challenges in the order the server sent them and
// returns the first with a supported algorithm.
func Choose(values []string) (*Challenge, error) {
	var firstErr error
	for _, v := range values {
		c, err := Parse(v)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if Supported(c.Algorithm) {
			return c, nil
		}
	}
	if firstErr != nil {
		return nil, errors.Join(ErrNoSupported, firstErr)
	}
	return nil, ErrNoSupported
}

// Credentials answer a challenge.
type Credentials struct {
	Username string
	Password string
}

// Answer computes the Authorization (or Proxy-Authorization) value for a
// request of method to uri. nc is the nonce count (1 for a fresh nonce).
func Answer(c *Challenge, cred Credentials, method, uri string, nc uint32) (string, error) {
	var h func() hash.Hash
	alg := strings.ToUpper(c.Algorithm)
	switch alg {
	case "", "MD5":
		h = md5.New
	case "SHA-256":
		h = sha256.New
	default:
		return "", fmt.Errorf("%w: %s", ErrNoSupported, c.Algorithm)
	}
	sum := func(parts ...string) string {
		x := h()
		x.Write([]byte(strings.Join(parts, ":")))
		return hex.EncodeToString(x.Sum(nil))
	}
	ha1 := sum(cred.Username, c.Realm, cred.Password)
	ha2 := sum(method, uri)
	qop := ""
	for _, q := range c.QOP {
		if strings.EqualFold(q, "auth") {
			qop = "auth"
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username="%s", realm="%s", nonce="%s", uri="%s"`, quote(cred.Username), quote(c.Realm), quote(c.Nonce), quote(uri))
	if qop != "" {
		var raw [8]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return "", err
		}
		cnonce := hex.EncodeToString(raw[:])
		ncs := fmt.Sprintf("%08x", nc)
		fmt.Fprintf(&b, `, response="%s", cnonce="%s", nc=%s, qop=auth`, sum(ha1, c.Nonce, ncs, cnonce, qop, ha2), cnonce, ncs)
	} else {
		fmt.Fprintf(&b, `, response="%s"`, sum(ha1, c.Nonce, ha2))
	}
	if c.Algorithm != "" {
		fmt.Fprintf(&b, ", algorithm=%s", c.Algorithm)
	}
	if c.Opaque != "" {
		fmt.Fprintf(&b, `, opaque="%s"`, quote(c.Opaque))
	}
	return b.String(), nil
}

func quote(s string) string { return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) }
