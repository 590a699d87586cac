package interop

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/testcert"
	"github.com/leapsmear/leapsmear/nts"
	"github.com/leapsmear/leapsmear/ntske"
)

// TestNTSCertificateReload: SIGHUP to `leapsmear serve` reloads the NTS-KE
// certificate and key. A broken pair in their place (the key of another
// certificate; a certificate file that is not PEM) is logged as an error
// naming the file, counted (leapsmear_nts_reload_failures_total), and the
// last good certificate stays: NTS-KE still hands out cookies under it. A
// new valid pair is taken: the next handshake presents it (another serial
// and key), and the failures counted stay.
func TestNTSCertificateReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certs := testcert.New(t, dir) // serial 2
	s, kePort := ntsServer(t, certs, "--admin", "127.0.0.1:0")
	ke := "127.0.0.1:" + kePort
	// peer completes NTS-KE (cookies for NTPv4 and AES-SIV) and returns the
	// certificate the server presented.
	peer := func(when string) *x509.Certificate {
		t.Helper()
		conn, err := tls.Dial("tcp", ke, &tls.Config{RootCAs: certs.Pool, NextProtos: []string{nts.ALPN}, MinVersion: tls.VersionTLS13})
		if err != nil {
			t.Fatalf("%s: TLS handshake: %v", when, err)
		}
		got := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		res, err := ntske.Exchange(context.Background(), ke, ntske.ClientConfig{RootCAs: certs.Pool})
		if err != nil || len(res.Cookies) != nts.MaxCookies {
			t.Fatalf("%s: NTS-KE: %v", when, err)
		}
		return got
	}
	first := peer("at start")
	if first.SerialNumber.Int64() != 2 {
		t.Fatalf("serial %v at start", first.SerialNumber)
	}
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	goodCert, goodKey := read(certs.Cert), read(certs.Key)
	_, otherKey := certs.Issue(t, "other", 9)
	broken := []struct {
		name, cert, key, want string
	}{
		{"the key of another certificate", goodCert, read(otherKey), "private key does not match public key"},
		{"a certificate file that is not PEM", "not a certificate\n", goodKey, "failed to find any PEM data"},
	}
	hup := func() {
		t.Helper()
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	for i, b := range broken {
		writeAtomic(t, certs.Cert, b.cert)
		writeAtomic(t, certs.Key, b.key)
		hup()
		rec := s.waitLog(t, "nts certificate reload failed", i+1)[i]
		msg, _ := rec["error"].(string)
		if rec["level"] != "ERROR" || !strings.Contains(msg, certs.Cert) || !strings.Contains(msg, b.want) {
			t.Errorf("%s: logged %v, want an error naming %s and saying %q", b.name, rec, certs.Cert, b.want)
		}
		if got := peer("after a SIGHUP with " + b.name); !got.Equal(first) {
			t.Errorf("after a SIGHUP with %s: serial %v, want the last good certificate (serial %v)", b.name, got.SerialNumber, first.SerialNumber)
		}
	}
	n := float64(len(broken))
	checkMetrics(t, "after the bad reloads", metrics(t, s), map[string]float64{"leapsmear_nts_reload_failures_total": n})

	cert, _ := certs.Issue(t, "server", 3) // in place of server.pem and server.key
	if cert != certs.Cert {
		t.Fatalf("issued %s, serving %s", cert, certs.Cert)
	}
	hup()
	s.waitLog(t, "nts certificate and keys reloaded", 1)
	got := peer("after a SIGHUP with a new pair")
	if got.SerialNumber.Int64() != 3 || got.Equal(first) {
		t.Errorf("after a SIGHUP with a new pair: serial %v, want 3", got.SerialNumber)
	}
	if len(records(t, s.logs.String(), "nts certificate reload failed")) != len(broken) {
		t.Errorf("a failure logged for the good pair:\n%s", s.logs)
	}
	checkMetrics(t, "after the good reload", metrics(t, s), map[string]float64{"leapsmear_nts_reload_failures_total": n})
}

// TestNTSDefaultKEPort: NTS-KE listens on port 4460 of the first --listen
// host when only --nts-cert and --nts-key are given, and `query --nts`
// reaches it there without --nts-port: it gets an authenticated answer
// from the NTP address that NTS-KE named. In a network namespace of its
// own, so that the host's port 4460 is not touched.
func TestNTSDefaultKEPort(t *testing.T) {
	t.Parallel()
	certs := testcert.New(t, t.TempDir())
	read, _ := serveThen(t, 30*time.Second, []string{"--nts-cert", certs.Cert, "--nts-key", certs.Key},
		`"$LEAPSMEAR" query 127.0.0.1 --nts --nts-ca "$CA" --json`, "CA="+certs.CA)
	ke := records(t, read("serve.log"), `"nts-ke listening"`)
	if len(ke) != 1 || ke[0]["nts_ke"] != "127.0.0.1:4460" || ke[0]["ntp_server"] != "127.0.0.1:123" {
		t.Fatalf("NTS-KE: %v\n%s", ke, read("serve.log"))
	}
	var res []map[string]any
	if err := json.Unmarshal([]byte(read("client.out")), &res); err != nil || len(res) != 1 {
		t.Fatalf("query --json: %v\n%s", err, read("client.out"))
	}
	if res[0]["authenticated"] != true || res[0]["address"] != "127.0.0.1:123" {
		t.Errorf("query --nts without --nts-port: %v", res[0])
	}
}
