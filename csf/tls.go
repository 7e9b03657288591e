package csf

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// TLSReason says why a server's certificate was refused.
type TLSReason int

// Reasons a certificate is refused. They name the fix a support engineer
// needs, where x509's messages name the symptom.
const (
	TLSOther            TLSReason = iota // anything else; see the wrapped error
	TLSNameMismatch                      // certificate valid, but not for the host dialled
	TLSUnknownAuthority                  // issuer not in the trust store
	TLSNotCA                             // issuer is trusted but lacks the CA bit (basicConstraints CA:FALSE)
	TLSExpired                           // outside its validity period (expired or not yet valid)
)

var tlsReasonNames = [...]string{
	"other", "name mismatch", "unknown certificate authority",
	"issuer certificate is not a CA (basicConstraints CA bit missing)", "certificate expired or not yet valid",
}

func (r TLSReason) String() string {
	if int(r) < len(tlsReasonNames) {
		return tlsReasonNames[r]
	}
	return "unknown"
}

// TLSError is a certificate verification failure, classified.
// Match it with errors.As; Is matches another *TLSError with the same
// Reason (an empty Host acts as a wildcard).
type TLSError struct {
	Host   string
	Reason TLSReason
	// Cert summarises the certificate the server presented, when known.
	Cert *CertSummary
	Err  error
}

func (e *TLSError) Error() string {
	msg := fmt.Sprintf("tls: %s: %s", e.Host, e.Reason)
	if e.Cert != nil {
		msg += fmt.Sprintf(" (subject %q, issuer %q", e.Cert.Subject, e.Cert.Issuer)
		if len(e.Cert.DNSNames) > 0 || len(e.Cert.IPAddresses) > 0 {
			msg += fmt.Sprintf(", valid for %s", strings.Join(append(append([]string{}, e.Cert.DNSNames...), e.Cert.IPAddresses...), ", "))
		}
		msg += fmt.Sprintf(", expires %s)", e.Cert.NotAfter.UTC().Format(time.DateOnly))
	}
	return msg + ": " + e.Err.Error()
}

func (e *TLSError) Unwrap() error { return e.Err }

// Is reports whether target is a *TLSError of the same reason and, when
// target names one, the same host.
func (e *TLSError) Is(target error) bool {
	t, ok := target.(*TLSError)
	if !ok {
		return false
	}
	return t.Reason == e.Reason && (t.Host == "" || t.Host == e.Host)
}

// CertSummary describes a certificate for diagnostics.
type CertSummary struct {
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	DNSNames    []string  `json:"dns_names,omitempty"`
	IPAddresses []string  `json:"ip_addresses,omitempty"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	IsCA        bool      `json:"is_ca"`
	SHA256      string    `json:"sha256"`
}

// SummarizeCert returns the summary of c.
func SummarizeCert(c *x509.Certificate) *CertSummary {
	if c == nil {
		return nil
	}
	sum := sha256.Sum256(c.Raw)
	s := &CertSummary{
		Subject:   c.Subject.String(),
		Issuer:    c.Issuer.String(),
		DNSNames:  append([]string(nil), c.DNSNames...),
		NotBefore: c.NotBefore,
		NotAfter:  c.NotAfter,
		IsCA:      c.BasicConstraintsValid && c.IsCA,
		SHA256:    hex.EncodeToString(sum[:]),
	}
	for _, ip := range c.IPAddresses {
		s.IPAddresses = append(s.IPAddresses, ip.String())
	}
	return s
}

// SummarizeConn summarises the leaf certificate of a completed handshake.
func SummarizeConn(cs tls.ConnectionState) *CertSummary {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	return SummarizeCert(cs.PeerCertificates[0])
}

// Trust is a trust store: certificates from the configuration, optionally
// on top of the system roots. Services use it to build their tls.Config and
// to explain a failed handshake.
type Trust struct {
	pool  *x509.CertPool
	certs []*x509.Certificate // the ones we added, for classifying failures
}

// LoadTrust builds a trust store from a PEM file (empty for none) and,
// when useSystem is set, the system roots.
func LoadTrust(caFile string, useSystem bool) (*Trust, error) {
	t := &Trust{pool: x509.NewCertPool()}
	if useSystem {
		sys, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("csf: load system trust store: %w", err)
		}
		t.pool = sys
	}
	if caFile == "" {
		return t, nil
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("csf: load trust store: %w", err)
	}
	if err := t.AddPEM(data); err != nil {
		return nil, fmt.Errorf("csf: load trust store %s: %w", caFile, err)
	}
	return t, nil
}

// AddPEM adds every certificate in data.
func (t *Trust) AddPEM(data []byte) error {
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return fmt.Errorf("certificate %d: %w", n+1, err)
		}
		t.pool.AddCert(c)
		t.certs = append(t.certs, c)
		n++
	}
	if n == 0 {
		return errors.New("no PEM certificate found")
	}
	return nil
}

// Pool returns the certificate pool for tls.Config.RootCAs.
func (t *Trust) Pool() *x509.CertPool { return t.pool }

// TLSConfig returns a client configuration for serverName with
// verification on.
func (t *Trust) TLSConfig(serverName string) *tls.Config {
	return &tls.Config{ServerName: serverName, RootCAs: t.pool, MinVersion: tls.VersionTLS12}
}

// Classify turns a handshake error into a *TLSError naming the problem;
// other errors are returned unchanged. t may be nil.
func (t *Trust) Classify(host string, err error) error {
	if err == nil {
		return nil
	}
	var already *TLSError
	if errors.As(err, &already) {
		return err
	}
	te := &TLSError{Host: host, Err: err}
	var cve *tls.CertificateVerificationError
	var leaf *x509.Certificate
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		leaf = cve.UnverifiedCertificates[0]
		te.Cert = SummarizeCert(leaf)
	}
	var hostErr x509.HostnameError
	var uaErr x509.UnknownAuthorityError
	var invErr x509.CertificateInvalidError
	switch {
	case errors.As(err, &hostErr):
		te.Reason = TLSNameMismatch
		if te.Cert == nil {
			te.Cert = SummarizeCert(hostErr.Certificate)
		}
	case errors.As(err, &invErr):
		switch invErr.Reason {
		case x509.Expired:
			te.Reason = TLSExpired
		case x509.NotAuthorizedToSign:
			te.Reason = TLSNotCA
		default:
			te.Reason = TLSOther
		}
		if te.Cert == nil {
			te.Cert = SummarizeCert(invErr.Cert)
		}
	case errors.As(err, &uaErr):
		te.Reason = TLSUnknownAuthority
		if leaf == nil {
			leaf = uaErr.Cert
			te.Cert = SummarizeCert(leaf)
		}
		// x509 reports a trusted issuer without the CA bit as an unknown
		// authority; tell the two apart, since the fixes differ.
		if t.issuerLacksCABit(leaf) || strings.Contains(err.Error(), "not authorized to sign") || strings.Contains(err.Error(), "cannot sign this kind of certificate") {
			te.Reason = TLSNotCA
		}
	default:
		return err
	}
	return te
}

func (t *Trust) issuerLacksCABit(leaf *x509.Certificate) bool {
	if t == nil || leaf == nil {
		return false
	}
	for _, c := range t.certs {
		if string(c.RawSubject) == string(leaf.RawIssuer) && c.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil {
			if !c.BasicConstraintsValid || !c.IsCA {
				return true
			}
		}
	}
	return false
}
