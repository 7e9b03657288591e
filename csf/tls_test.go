package csf_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencsf/opencsf/csf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type issued struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func issue(t *testing.T, parent *issued, tmpl *x509.Certificate) *issued {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &issued{c, key}
}

func caTmpl(name string, isCA bool) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
}

func leafTmpl(dns string, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: dns}, DNSNames: []string{dns},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: notAfter,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
}

// handshake runs a TLS handshake over loopback TCP (net.Pipe would
// deadlock when both ends write after a failed verification) and returns the
// client's error, classified by trust.
func handshake(t *testing.T, trust *csf.Trust, host string, leaf *issued) (tls.ConnectionState, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	s, err := ln.Accept()
	require.NoError(t, err)
	srv := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.cert.Raw}, PrivateKey: leaf.key}}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Handshake()
		s.Close()
	}()
	cli := tls.Client(c, trust.TLSConfig(host))
	err = cli.Handshake()
	c.Close()
	<-done
	return cli.ConnectionState(), trust.Classify(host, err)
}

func writePEM(t *testing.T, certs ...*x509.Certificate) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	var data []byte
	for _, c := range certs {
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

func TestTLSDiagnosticsNameTheProblem(t *testing.T) {
	ca := issue(t, nil, caTmpl("OpenCSF Test CA", true))
	other := issue(t, nil, caTmpl("Some Other CA", true))
	notCA := issue(t, nil, caTmpl("Not Really A CA", false))
	good := issue(t, ca, leafTmpl("example.test", time.Now().Add(time.Hour)))
	expired := issue(t, ca, leafTmpl("example.test", time.Now().Add(-time.Hour)))
	foreign := issue(t, other, leafTmpl("example.test", time.Now().Add(time.Hour)))
	byNotCA := issue(t, notCA, leafTmpl("example.test", time.Now().Add(time.Hour)))

	trust, err := csf.LoadTrust(writePEM(t, ca.cert, notCA.cert), false)
	require.NoError(t, err)

	cs, err := handshake(t, trust, "example.test", good)
	require.NoError(t, err)
	sum := csf.SummarizeConn(cs)
	require.NotNil(t, sum)
	assert.Equal(t, []string{"example.test"}, sum.DNSNames)
	assert.Contains(t, sum.Issuer, "OpenCSF Test CA")
	assert.Len(t, sum.SHA256, 64)

	cases := []struct {
		name   string
		host   string
		leaf   *issued
		reason csf.TLSReason
		says   string
	}{
		{"name mismatch", "pbx.example.test", good, csf.TLSNameMismatch, "valid for example.test"},
		{"unknown CA", "example.test", foreign, csf.TLSUnknownAuthority, "Some Other CA"},
		{"CA without CA bit", "example.test", byNotCA, csf.TLSNotCA, "CA bit missing"},
		{"expired", "example.test", expired, csf.TLSExpired, "expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := handshake(t, trust, tc.host, tc.leaf)
			var te *csf.TLSError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, tc.reason, te.Reason, "error: %v", err)
			assert.Equal(t, tc.host, te.Host)
			assert.Contains(t, err.Error(), tc.says)
			assert.ErrorIs(t, err, &csf.TLSError{Reason: tc.reason})
		})
	}
}

func TestLoadTrustErrors(t *testing.T) {
	_, err := csf.LoadTrust(filepath.Join(t.TempDir(), "missing.pem"), false)
	assert.ErrorIs(t, err, os.ErrNotExist)
	empty := filepath.Join(t.TempDir(), "empty.pem")
	require.NoError(t, os.WriteFile(empty, []byte("not pem"), 0o600))
	_, err = csf.LoadTrust(empty, false)
	assert.ErrorContains(t, err, "no PEM certificate")
	assert.Nil(t, (*csf.Trust)(nil).Classify("h", nil))
}
