package admin

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/internal/testcert"
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
