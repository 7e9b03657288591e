package lab

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Names the lab's server certificate is valid for. Clients may verify any of them.
var serverNames = []string{"example.test", "conference.example.test", "localhost"}

// File names the lab writes into a CA's directory.
const (
	caCertFile     = "ca.crt"
	serverCertFile = "server.crt"
	serverKeyFile  = "server.key"
)

// CA is a throwaway certificate authority (ECDSA P-256) and the server certificate it
// issued for example.test, conference.example.test, localhost and 127.0.0.1. It lives
// for one lab: nothing it makes is trusted anywhere else.
//
// A CA is safe for concurrent use once made.
type CA struct {
	// Dir holds ca.crt, server.crt and server.key (all PEM).
	Dir string
	// CertFile is the path of ca.crt: the file to give a client as its trusted CA.
	CertFile string
	// ServerCertFile and ServerKeyFile are the paths of the server certificate and its
	// unencrypted key.
	ServerCertFile string
	ServerKeyFile  string

	cert          *x509.Certificate
	key           *ecdsa.PrivateKey
	certPEM       []byte
	serverCertPEM []byte
	serverKeyPEM  []byte
}

// NewCA makes a CA and its server certificate and writes them into dir, which is
// created if needed. Existing files of the same names are replaced.
func NewCA(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: make CA: %w", err)
	}
	cert, key, err := newCACert("OpenCSF lab CA", true, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("lab: make CA: %w", err)
	}
	c := &CA{
		Dir:            dir,
		CertFile:       filepath.Join(dir, caCertFile),
		ServerCertFile: filepath.Join(dir, serverCertFile),
		ServerKeyFile:  filepath.Join(dir, serverKeyFile),
		cert:           cert,
		key:            key,
		certPEM:        certPEM(cert),
	}
	now := time.Now()
	leaf, err := c.issue(leafTemplate("example.test", serverNames, now.Add(-time.Hour), now.Add(30*24*time.Hour)), c.cert, c.key, dir, "server")
	if err != nil {
		return nil, fmt.Errorf("lab: make CA: %w", err)
	}
	c.serverCertPEM, c.serverKeyPEM = leaf.CertPEM, leaf.KeyPEM
	if err := os.WriteFile(c.CertFile, c.certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("lab: make CA: %w", err)
	}
	return c, nil
}

// Certificate returns the CA's own certificate.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// CertPEM returns the CA certificate in PEM form (the content of [CA.CertFile]).
func (c *CA) CertPEM() []byte { return clone(c.certPEM) }

// ServerCertPEM returns the server certificate in PEM form.
func (c *CA) ServerCertPEM() []byte { return clone(c.serverCertPEM) }

// ServerKeyPEM returns the server certificate's private key in PEM form.
func (c *CA) ServerKeyPEM() []byte { return clone(c.serverKeyPEM) }

// CertPool returns a new pool holding only this CA, for tls.Config.RootCAs.
func (c *CA) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// ClientTLS returns a client configuration that trusts only this CA and expects
// serverName (such as "example.test" or "127.0.0.1").
func (c *CA) ClientTLS(serverName string) *tls.Config {
	return &tls.Config{RootCAs: c.CertPool(), ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// writeServerFiles copies the server certificate and key into dir as server.crt and
// server.key (key mode 0600), for a server that reads them from its own directory.
func (c *CA) writeServerFiles(dir string) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, serverCertFile), filepath.Join(dir, serverKeyFile)
	if err := os.WriteFile(certFile, c.serverCertPEM, 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, c.serverKeyPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(dir, caCertFile), c.certPEM, 0o644); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// Leaf is a certificate with its key, as files and in memory.
type Leaf struct {
	CertFile string // PEM: the leaf, then any intermediate that came with it
	KeyFile  string // PEM: the unencrypted private key
	CertPEM  []byte
	KeyPEM   []byte
	// Chain is the leaf first, then the intermediates a server would send.
	Chain []*x509.Certificate
	// TLS is ready for tls.Config.Certificates.
	TLS tls.Certificate
}

// BadCerts are certificates that must fail verification against the lab CA, each in
// its own way, for tests of TLS diagnostics. All name example.test unless said.
type BadCerts struct {
	// OtherCA is a second CA, independent of the lab CA; OtherCAFile its PEM file.
	OtherCA     *x509.Certificate
	OtherCAFile string
	// UnknownAuthority is a valid leaf issued by OtherCA: x509.UnknownAuthorityError.
	UnknownAuthority *Leaf
	// Expired is issued by the lab CA but expired an hour ago:
	// x509.CertificateInvalidError with Reason x509.Expired.
	Expired *Leaf
	// WrongName is issued by the lab CA for wrong.invalid only: x509.HostnameError.
	WrongName *Leaf
	// NotCA is issued by an intermediate "CA" whose certificate, signed by the lab CA,
	// lacks the CA bit (BasicConstraints IsCA=false); the chain includes it. Go reports
	// x509.UnknownAuthorityError whose message names the cause ("parent certificate
	// cannot sign this kind of certificate"); OpenSSL reports "invalid CA certificate".
	NotCA *Leaf
}

// MakeBadCerts issues the [BadCerts] and writes them into a "bad" directory under
// [CA.Dir] (other-ca.crt, unknown-authority.crt/.key, expired.crt/.key,
// wrong-name.crt/.key, not-ca.crt/.key).
func (c *CA) MakeBadCerts() (*BadCerts, error) {
	dir := filepath.Join(c.Dir, "bad")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: make bad certificates: %w", err)
	}
	now := time.Now()
	valid := func() *x509.Certificate {
		return leafTemplate("example.test", serverNames, now.Add(-time.Hour), now.Add(24*time.Hour))
	}
	b := &BadCerts{OtherCAFile: filepath.Join(dir, "other-ca.crt")}
	var err error
	wrap := func(err error) error { return fmt.Errorf("lab: make bad certificates: %w", err) }

	otherCA, otherKey, err := newCACert("OpenCSF lab other CA", true, nil, nil)
	if err != nil {
		return nil, wrap(err)
	}
	b.OtherCA = otherCA
	if err := os.WriteFile(b.OtherCAFile, certPEM(otherCA), 0o644); err != nil {
		return nil, wrap(err)
	}
	if b.UnknownAuthority, err = c.issue(valid(), otherCA, otherKey, dir, "unknown-authority"); err != nil {
		return nil, wrap(err)
	}
	if b.Expired, err = c.issue(leafTemplate("example.test", serverNames, now.Add(-48*time.Hour), now.Add(-time.Hour)), c.cert, c.key, dir, "expired"); err != nil {
		return nil, wrap(err)
	}
	if b.WrongName, err = c.issue(leafTemplate("wrong.invalid", []string{"wrong.invalid"}, now.Add(-time.Hour), now.Add(24*time.Hour)), c.cert, c.key, dir, "wrong-name"); err != nil {
		return nil, wrap(err)
	}
	notCA, notCAKey, err := newCACert("OpenCSF lab intermediate without CA bit", false, c.cert, c.key)
	if err != nil {
		return nil, wrap(err)
	}
	if b.NotCA, err = c.issue(valid(), notCA, notCAKey, dir, "not-ca"); err != nil {
		return nil, wrap(err)
	}
	return b, nil
}

// newCACert makes a CA-like certificate: self-signed when parent is nil. isCA false
// gives the broken "CA" whose BasicConstraints say it is not one.
func newCACert(cn string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"OpenCSF lab"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func leafTemplate(cn string, names []string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: []string{"OpenCSF lab"}},
		DNSNames:    names,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
}

// issue signs tmpl with parent and writes dir/name.crt (leaf, then parent unless it is
// the lab CA) and dir/name.key.
func (c *CA) issue(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, dir, name string) (*Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if tmpl.SerialNumber, err = serialNumber(); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	chain := []*x509.Certificate{cert}
	if !parent.IsCA {
		chain = append(chain, parent) // the broken intermediate a server would send
	}
	var certs []byte
	for _, x := range chain {
		certs = append(certs, certPEM(x)...)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	l := &Leaf{
		CertFile: filepath.Join(dir, name+".crt"),
		KeyFile:  filepath.Join(dir, name+".key"),
		CertPEM:  certs,
		KeyPEM:   keyPEM,
		Chain:    chain,
	}
	if l.TLS, err = tls.X509KeyPair(certs, keyPEM); err != nil {
		return nil, err
	}
	if err := os.WriteFile(l.CertFile, certs, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(l.KeyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	return l, nil
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
