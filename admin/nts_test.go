package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/testcert"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/nts"
	"github.com/leapsmear/leapsmear/ntske"
)

// NTS shows in the metrics, /api/status and the status page, and its
// counters follow an NTS-KE and authenticated exchanges.
func TestNTSMetricsAndStatus(t *testing.T) {
	certs := testcert.New(t, t.TempDir())
	s := start(t, func(c *daemon.Config) {
		c.NTS = &daemon.NTSConfig{KEListen: "127.0.0.1:0", CertFile: certs.Cert, KeyFile: certs.Key}
	})
	ke := s.d.NTSStatus().KEListen
	_, port, _ := net.SplitHostPort(ke)
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(context.Background(), "127.0.0.1", client.Options{Timeout: 5 * time.Second, NTS: &client.NTSOptions{Port: p, RootCAs: certs.Pool}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Addr().String() != s.ntp {
		t.Fatalf("NTS-KE sent the client to %s, serving %s", c.Addr(), s.ntp)
	}
	for range 3 {
		r, err := c.Query(context.Background())
		if err != nil || !r.Authenticated {
			t.Fatalf("authenticated query: %v", err)
		}
	}
	// The NTS-KE server counts a connection after its last write.
	for deadline := time.Now().Add(10 * time.Second); s.d.NTSStatus().KE.OK == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	fams := s.scrape(t)
	if v := value(t, fams, "leapsmear_nts_ke_handshakes_total", "result", "ok"); v != 1 {
		t.Errorf("handshakes ok %v", v)
	}
	if v := value(t, fams, "leapsmear_nts_ke_handshakes_total", "result", ntske.FailTimeout); v != 0 {
		t.Errorf("handshakes timeout %v", v)
	}
	if v := value(t, fams, "leapsmear_nts_replies_total"); v != 3 {
		t.Errorf("authenticated replies %v", v)
	}
	if v := value(t, fams, "leapsmear_nts_cookie_keys"); v != 9 {
		t.Errorf("cookie keys %v", v)
	}
	if v := value(t, fams, "leapsmear_nts_certificate_expiry_seconds"); v < 3600 {
		t.Errorf("certificate expiry %v s", v)
	}
	_ = value(t, fams, "leapsmear_nts_naks_total", "reason", "cookie")

	_, body := s.get(t, "/api/status")
	var r Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if r.NTS == nil || r.NTS.Replies != 3 || r.NTS.HandshakesOK != 1 || r.NTS.NTPServer != s.ntp || r.NTS.KEListen != ke {
		t.Fatalf("nts in /api/status: %+v", r.NTS)
	}
	_, page := s.get(t, "/")
	if !strings.Contains(page, `id="nts"`) || !strings.Contains(page, "NTS-authenticated replies") {
		t.Error("status page has no NTS card")
	}
}

// TestNTSNAKMetricsCount: requests whose cookie does not decrypt (one bit
// of it flipped) are answered with an NTS NAK, a kiss-o'-death NTSN
// (stratum 0, LI 3) as long as the request's header and Unique Identifier,
// without an Authenticator, and leapsmear_nts_naks_total{reason="cookie"}
// (the cookie decrypt failures) and the listener's nts_nak_cookie verdict go
// up by exactly the number sent; requests with good cookies but an
// Authenticator sealed under another key are NAKed and counted under
// reason "auth". Neither counts as an authenticated reply; the next good
// request does.
func TestNTSNAKMetricsCount(t *testing.T) {
	certs := testcert.New(t, t.TempDir())
	s := start(t, func(c *daemon.Config) {
		c.NTS = &daemon.NTSConfig{KEListen: "127.0.0.1:0", CertFile: certs.Cert, KeyFile: certs.Key}
	})
	ke, err := ntske.Exchange(context.Background(), s.d.NTSStatus().KEListen, ntske.ClientConfig{RootCAs: certs.Pool})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", s.ntp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// ask sends an NTS request made by sess and returns the reply, its
	// header and the request's length and Unique Identifier.
	ask := func(sess *nts.Session) (reply []byte, h ntp.Header, reqLen int, uid []byte) {
		t.Helper()
		transmit := ntp.TimestampFromUnixNano(time.Now().UnixNano())
		req, uid := ntptest.NTSRequest(t, sess, transmit, 0)
		reply = ntptest.Exchange(t, conn, req)
		if err := h.Decode(reply); err != nil {
			t.Fatal(err)
		}
		if h.Origin != transmit {
			t.Fatalf("reply to another request: origin %v, sent %v", h.Origin, transmit)
		}
		return reply, h, len(req), uid
	}
	checkNAK := func(what string, sess *nts.Session) {
		t.Helper()
		reply, h, _, uid := ask(sess)
		// The header and the Unique Identifier field (4 + 32 bytes), no
		// Authenticator.
		if h.Stratum != 0 || h.ReferenceID != ntp.KissNTSN || h.Leap != ntp.LeapUnsynchronised || h.Mode != ntp.ModeServer ||
			len(reply) != ntp.HeaderLen+4+len(uid) {
			t.Errorf("%s: reply %+v, %d bytes; want a kiss-o'-death NTSN of %d bytes", what, h, len(reply), ntp.HeaderLen+4+len(uid))
		}
		if err := sess.CheckReply(reply, uid); !errors.Is(err, nts.ErrNAK) {
			t.Errorf("%s: the client reads the reply as %v, want a NAK", what, err)
		}
	}
	type counts struct{ cookie, auth, verdictCookie, verdictAuth, replies float64 }
	read := func() counts {
		f := s.scrape(t)
		return counts{
			cookie:        value(t, f, "leapsmear_nts_naks_total", "reason", "cookie"),
			auth:          value(t, f, "leapsmear_nts_naks_total", "reason", "auth"),
			verdictCookie: value(t, f, "leapsmear_listener_packets_total", "listen", s.ntp, "verdict", "nts_nak_cookie"),
			verdictAuth:   value(t, f, "leapsmear_listener_packets_total", "listen", s.ntp, "verdict", "nts_nak_auth"),
			replies:       value(t, f, "leapsmear_nts_replies_total"),
		}
	}
	// wait reads the counters until they reach want (the server counts a
	// batch's verdicts once it has sent it) or a deadline passes.
	wait := func(done func(counts) bool) counts {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; {
			c := read()
			if done(c) || time.Now().After(deadline) {
				return c
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	before := read()

	const badCookies, badAuth = 4, 3
	var broken [][]byte
	for _, c := range ke.Cookies[:badCookies] {
		b := bytes.Clone(c)
		b[len(b)/2] ^= 0x10 // in the ciphertext: the AEAD tag fails
		broken = append(broken, b)
	}
	sess, err := nts.NewSession(ke.Keys, broken)
	if err != nil {
		t.Fatal(err)
	}
	for i := range badCookies {
		checkNAK(fmt.Sprintf("corrupted cookie %d", i), sess)
	}
	wrong := ke.Keys
	wrong.C2S[0] ^= 1
	sess, err = nts.NewSession(wrong, ke.Cookies[badCookies:badCookies+badAuth])
	if err != nil {
		t.Fatal(err)
	}
	for i := range badAuth {
		checkNAK(fmt.Sprintf("authenticator under another key %d", i), sess)
	}
	after := wait(func(c counts) bool { return c.cookie+c.auth-before.cookie-before.auth >= badCookies+badAuth })
	if after.cookie-before.cookie != badCookies || after.verdictCookie-before.verdictCookie != badCookies {
		t.Errorf("cookie NAKs counted %v (listener verdicts %v) for %d sent", after.cookie-before.cookie, after.verdictCookie-before.verdictCookie, badCookies)
	}
	if after.auth-before.auth != badAuth || after.verdictAuth-before.verdictAuth != badAuth {
		t.Errorf("auth NAKs counted %v (listener verdicts %v) for %d sent", after.auth-before.auth, after.verdictAuth-before.verdictAuth, badAuth)
	}
	if after.replies != before.replies {
		t.Errorf("authenticated replies went from %v to %v on NAKs", before.replies, after.replies)
	}

	// The last cookie, with the right keys: an authenticated reply, counted.
	sess, err = nts.NewSession(ke.Keys, ke.Cookies[badCookies+badAuth:])
	if err != nil {
		t.Fatal(err)
	}
	reply, h, n, uid := ask(sess)
	if err := sess.CheckReply(reply, uid); err != nil || h.Stratum != 2 || len(reply) != n {
		t.Fatalf("a good request: %v, stratum %d, %d bytes for %d", err, h.Stratum, len(reply), n)
	}
	final := wait(func(c counts) bool { return c.replies > before.replies })
	if final.replies != before.replies+1 || final.cookie != after.cookie || final.auth != after.auth {
		t.Errorf("after a good request: %+v, before it %+v", final, after)
	}
}
