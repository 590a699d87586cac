package ntptest

import (
	"crypto/rand"
	"net"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/nts"
)

// NTSRequest returns an NTS client request (RFC 8915) made by sess, and
// its Unique Identifier: an NTPv4 client header carrying transmit, then a
// fresh random Unique Identifier, one of the session's cookies (used up),
// placeholders cookie placeholders and the Authenticator, sealed with a
// fresh random nonce.
func NTSRequest(t testing.TB, sess *nts.Session, transmit ntp.Timestamp, placeholders int) (req, uid []byte) {
	t.Helper()
	req = make([]byte, 1024)
	h := ntp.Header{Version: 4, Mode: ntp.ModeClient, Transmit: transmit}
	if err := h.Encode(req); err != nil {
		t.Fatal(err)
	}
	uid, nonce := make([]byte, nts.MinUniqueIDLen), make([]byte, nts.NonceLen)
	_, _ = rand.Read(uid)
	_, _ = rand.Read(nonce)
	n, err := sess.Request(req, uid, nonce, placeholders)
	if err != nil {
		t.Fatal(err)
	}
	return req[:n], uid
}

// Exchange sends req on conn (a connected UDP socket) and returns the
// datagram that comes back, failing the test when none comes within 5 s.
func Exchange(t testing.TB, conn net.Conn, req []byte) []byte {
	t.Helper()
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	reply := make([]byte, 2048)
	n, err := conn.Read(reply)
	if err != nil {
		t.Fatalf("no reply from %s: %v", conn.RemoteAddr(), err)
	}
	return reply[:n]
}
