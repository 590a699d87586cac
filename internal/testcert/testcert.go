// Package testcert makes the certificates of NTS tests: a private CA and a
// server certificate for 127.0.0.1 (an IP SAN, as clients name the server by
// address), written as PEM files into a test's folder.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Files are the PEM files of one CA and one server certificate.
type Files struct {
	CA, Cert, Key string
	// Pool holds the CA, for clients in the test process.
	Pool *x509.CertPool

	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	dir    string
}

// New writes a CA and a server certificate for 127.0.0.1 into dir, valid
// from an hour ago for a day.
func New(t testing.TB, dir string) *Files {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "leapsmear test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(der)
	f := &Files{CA: filepath.Join(dir, "ca.pem"), caCert: caCert, caKey: caKey, dir: dir, Pool: x509.NewCertPool()}
	f.Pool.AddCert(caCert)
	writePEM(t, f.CA, "CERTIFICATE", der)
	f.Cert, f.Key = f.Issue(t, "server", 2)
	return f
}

// Issue writes another server certificate for 127.0.0.1 signed by the CA,
// as NAME.pem and NAME.key, and returns their paths.
func (f *Files) Issue(t testing.TB, name string, serial int64) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.caCert, &k.PublicKey, f.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(f.dir, name+".pem"), filepath.Join(f.dir, name+".key")
	writePEM(t, cert, "CERTIFICATE", der)
	writePEM(t, key, "PRIVATE KEY", kder)
	return cert, key
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
