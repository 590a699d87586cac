package ntske

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/testcert"
	"github.com/leapsmear/leapsmear/nts"
)

func startServer(t *testing.T, cfg ServerConfig) (*Server, *testcert.Files, *nts.Ring) {
	t.Helper()
	certs := testcert.New(t, t.TempDir())
	kf, err := nts.NewKeyFile(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := kf.Ring(time.Now().Unix())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	if cfg.CertFile == "" {
		cfg.CertFile, cfg.KeyFile = certs.Cert, certs.Key
	}
	cfg.Ring = func() *nts.Ring { return ring }
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s, certs, ring
}

func TestExchange(t *testing.T) {
	s, certs, ring := startServer(t, ServerConfig{NTPServer: "127.0.0.1", NTPPort: 11123})
	res, err := Exchange(context.Background(), s.Addr().String(), ClientConfig{RootCAs: certs.Pool})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cookies) != nts.MaxCookies || res.NTPServer != "127.0.0.1" || res.NTPPort != 11123 {
		t.Fatalf("got %d cookies, NTP at %s port %d", len(res.Cookies), res.NTPServer, res.NTPPort)
	}
	// The keys the client exported are the ones inside the cookies: an NTS
	// request made with them verifies.
	sess, err := nts.NewSession(res.Keys, res.Cookies)
	if err != nil {
		t.Fatal(err)
	}
	req := make([]byte, 1024)
	req[0] = 0x23
	uid, nonce := make([]byte, 32), make([]byte, 16)
	n, err := sess.Request(req, uid, nonce, 0)
	if err != nil {
		t.Fatal(err)
	}
	var q nts.Request
	if err := nts.NewServer(ring, rand.Reader).Verify(nts.NewScratch(), req[:n], &q); err != nil {
		t.Fatalf("request with the exported keys: %v", err)
	}
	// The server counts the connection after its last write: wait for it.
	waitFor(t, func() bool { return s.Stats().OK == 1 }, s)
	// Without the private CA the certificate is refused.
	if _, err := Exchange(context.Background(), s.Addr().String(), ClientConfig{}); err == nil {
		t.Error("exchange without the CA succeeded")
	}
}

// dialTLS completes a TLS 1.3 handshake with ALPN ntske/1 (or the
// protocols alpn) and returns the connection for raw record tests.
func dialTLS(t *testing.T, s *Server, certs *testcert.Files, alpn ...string) (*tls.Conn, error) {
	t.Helper()
	if alpn == nil {
		alpn = []string{nts.ALPN}
	}
	return dialTLSConfig(t, s, certs, &tls.Config{NextProtos: alpn, MinVersion: tls.VersionTLS13})
}

// dialTLSConfig completes a TLS handshake with s as cfg says, trusting the
// test CA, and returns the connection, with a deadline a minute away; it is
// closed when the test ends.
func dialTLSConfig(t *testing.T, s *Server, certs *testcert.Files, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	cfg.RootCAs = certs.Pool
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", s.Addr().String(), cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	return c, nil
}

func TestBadRequests(t *testing.T) {
	s, certs, _ := startServer(t, ServerConfig{})
	for _, c := range []struct {
		name string
		send []byte
		code uint16
	}{
		{"oversized record", []byte{0x80, 1, 0xff, 0xff}, nts.ErrorBadRequest},
		{"unknown critical record", nts.AppendRecord(nts.KERequest{Protocols: []uint16{0}, AEADs: []uint16{15}}.Append(nil)[:12], true, 0x777, nil), nts.ErrorUnrecognizedCritical},
		{"no next protocol", nts.AppendRecord(nil, true, nts.RecordEnd, nil), nts.ErrorBadRequest},
	} {
		conn, err := dialTLS(t, s, certs)
		if err != nil {
			t.Fatal(err)
		}
		msg := c.send
		if c.code == nts.ErrorUnrecognizedCritical {
			msg = nts.AppendRecord(msg, true, nts.RecordEnd, nil)
		}
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		reply, err := ReadMessage(conn)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, err = nts.ParseKEResponse(reply)
		var ke *nts.KEError
		if !errors.As(err, &ke) || ke.Code != c.code {
			t.Errorf("%s: answered %v, want error code %d", c.name, err, c.code)
		}
	}
	// No common AEAD: the empty AEAD record, no cookies.
	conn, _ := dialTLS(t, s, certs)
	_, _ = conn.Write(nts.KERequest{Protocols: []uint16{0}, AEADs: []uint16{30}}.Append(nil))
	reply, err := ReadMessage(conn)
	if err != nil {
		t.Fatal(err)
	}
	r, err := nts.ParseKEResponse(reply)
	if err != nil || r.HasAEAD || len(r.Cookies) != 0 {
		t.Errorf("unsupported AEAD answered %+v, %v", r, err)
	}
	// Without ALPN ntske/1 the handshake or the connection fails.
	if conn, err := dialTLS(t, s, certs, "http/1.1"); err == nil {
		_, _ = conn.Write(nts.KERequest{Protocols: []uint16{0}, AEADs: []uint16{15}}.Append(nil))
		if _, err := ReadMessage(conn); err == nil {
			t.Error("a client without ALPN ntske/1 was answered")
		}
	}
	waitFor(t, func() bool {
		st := s.Stats()
		return st.Failed[FailBadRequest] == 3 && st.Failed[FailUnsupported] == 1 && st.Failed[FailTLS]+st.Failed[FailALPN] == 1
	}, s)
}

func waitFor(t *testing.T, cond func() bool, s *Server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", s.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// A client that connects and sends nothing, or stops after the handshake, is
// cut off at the timeout, and others are served meanwhile.
func TestStallingClient(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s, certs, _ := startServer(t, ServerConfig{Timeout: timeout})
	start := time.Now()
	raw, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tlsStall, err := dialTLS(t, s, certs)
	if err != nil {
		t.Fatal(err)
	}
	// Served while the two stall.
	begin := time.Now()
	if _, err := Exchange(context.Background(), s.Addr().String(), ClientConfig{RootCAs: certs.Pool}); err != nil {
		t.Fatalf("exchange beside stalled clients: %v", err)
	}
	exchange := time.Since(begin)
	_ = raw.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := raw.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("stalled TCP client: read %v, want the server to close", err)
	}
	if el := time.Since(start); el < timeout {
		t.Errorf("cut off after %s, before the %s timeout", el, timeout)
	}
	if _, err := ReadMessage(tlsStall); err == nil {
		t.Fatal("stalled TLS client got a message")
	}
	waitFor(t, func() bool { return s.Stats().Failed[FailTimeout] == 2 }, s)
	t.Logf("an exchange took %s; stalled clients closed after the %s timeout", exchange, timeout)
}

func TestBusy(t *testing.T) {
	s, certs, _ := startServer(t, ServerConfig{MaxConns: 1, Timeout: time.Minute})
	hold, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	waitFor(t, func() bool { return len(s.sem) == 1 }, s)
	if _, err := Exchange(context.Background(), s.Addr().String(), ClientConfig{RootCAs: certs.Pool}); err == nil {
		t.Fatal("served beyond MaxConns")
	}
	waitFor(t, func() bool { return s.Stats().Failed[FailBusy] == 1 }, s)
	hold.Close()
	waitFor(t, func() bool { return len(s.sem) == 0 }, s)
}

func TestReloadCertificate(t *testing.T) {
	s, certs, _ := startServer(t, ServerConfig{})
	serial := func() int64 {
		conn, err := dialTLS(t, s, certs)
		if err != nil {
			t.Fatal(err)
		}
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(); got != 2 {
		t.Fatalf("serial %d", got)
	}
	// A broken pair is refused and the last good one kept.
	if err := os.WriteFile(certs.Cert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadCertificate(); err == nil {
		t.Fatal("reloaded a broken certificate")
	}
	if got := serial(); got != 2 {
		t.Fatalf("after a bad reload, serial %d", got)
	}
	// A new pair in place is taken.
	cert, key := certs.Issue(t, "server", 3)
	if cert != certs.Cert || key != certs.Key {
		t.Fatal("Issue wrote elsewhere")
	}
	if err := s.ReloadCertificate(); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != 3 {
		t.Fatalf("after reload, serial %d", got)
	}
	// A key that does not match the certificate.
	_, other := certs.Issue(t, "other", 4)
	s.cfg.KeyFile = other
	if err := s.ReloadCertificate(); err == nil {
		t.Fatal("reloaded a mismatched pair")
	}
}

// TestRefusesTLS12OrNoALPN: NTS-KE is TLS 1.3 with ALPN ntske/1 only
// (RFC 8915 section 4). A client that offers at most TLS 1.2 fails the
// handshake (a protocol version alert), and one that offers only another
// ALPN protocol fails it too (no application protocol); both are counted
// as TLS failures. One that offers no ALPN at all completes the TLS
// handshake but gets no NTS-KE message, only the connection closed, and is
// counted as an ALPN failure. None gets a cookie; a compliant client beside
// them does.
func TestRefusesTLS12OrNoALPN(t *testing.T) {
	s, certs, _ := startServer(t, ServerConfig{})
	request := nts.KERequest{Protocols: []uint16{nts.ProtocolNTPv4}, AEADs: []uint16{nts.AEADAESSIVCMAC256}}.Append(nil)
	for i, c := range []struct {
		who  string
		cfg  *tls.Config
		want string // in the handshake's error
	}{
		{"a TLS 1.2 client", &tls.Config{NextProtos: []string{nts.ALPN}, MaxVersion: tls.VersionTLS12}, "protocol version"},
		{"a client offering only ALPN http/1.1", &tls.Config{NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS13}, "no application protocol"},
	} {
		conn, err := dialTLSConfig(t, s, certs, c.cfg)
		if err == nil {
			st := conn.ConnectionState()
			t.Fatalf("%s completed the handshake (version %#x, ALPN %q)", c.who, st.Version, st.NegotiatedProtocol)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s failed with %v, want %q", c.who, err, c.want)
		}
		waitFor(t, func() bool { return s.Stats().Failed[FailTLS] == uint64(i+1) }, s)
	}

	conn, err := dialTLSConfig(t, s, certs, &tls.Config{MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatalf("a client without ALPN: handshake %v", err)
	}
	if p := conn.ConnectionState().NegotiatedProtocol; p != "" {
		t.Fatalf("a client without ALPN negotiated %q", p)
	}
	_, _ = conn.Write(request) // may fail: the server may have closed already
	if msg, err := ReadMessage(conn); err == nil {
		t.Fatalf("a client without ALPN got an NTS-KE message (%d bytes)", len(msg))
	}
	waitFor(t, func() bool { return s.Stats().Failed[FailALPN] == 1 }, s)

	if _, err := Exchange(context.Background(), s.Addr().String(), ClientConfig{RootCAs: certs.Pool}); err != nil {
		t.Fatalf("a compliant client beside them: %v", err)
	}
	waitFor(t, func() bool { return s.Stats().OK == 1 }, s)
	st := s.Stats()
	if st.Failed[FailTLS] != 2 || st.Failed[FailALPN] != 1 || st.Failed[FailBadRequest] != 0 {
		t.Errorf("stats %+v, want 2 TLS and 1 ALPN failures", st)
	}
}
