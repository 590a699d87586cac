package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/testcert"
)

// ntsServer starts leapsmear serve with NTS-KE on a free loopback port and
// returns it with the NTS-KE port.
func ntsServer(t *testing.T, certs *testcert.Files, args ...string) (*server, string) {
	t.Helper()
	s := startServer(t, append([]string{"--nts-cert", certs.Cert, "--nts-key", certs.Key, "--nts-ke-listen", "127.0.0.1:0"}, args...)...)
	rec := s.waitLog(t, `"nts-ke listening"`, 1)[0]
	ke, _ := rec["nts_ke"].(string)
	_, port, ok := strings.Cut(ke, ":")
	if !ok {
		t.Fatalf("nts-ke listening on %q", ke)
	}
	return s, port
}

// chronydNTS runs `chronyd -Q` as an NTS client that accepts only an
// authenticated source (authselectmode require), trusting the test's CA. It
// returns chronyd's offset (server minus local) and the local time in the
// middle of the run; chronyd prints one only when it got an authenticated
// sample.
// It also returns the longest round trip of chronyd's samples: the offset is
// off by at most half of it.
func chronydNTS(t *testing.T, ca string, ntpPort int, kePort string) (time.Duration, time.Time, time.Duration) {
	t.Helper()
	bin := needChronyd(t)
	dir := t.TempDir()
	conf := fmt.Sprintf(`ntstrustedcerts %s
authselectmode require
cmdport 0
bindcmdaddress /
ntsdumpdir %s
pidfile %s/q.pid
logdir %s
log measurements
server 127.0.0.1 port %d nts ntsport %s iburst maxsamples 1
`, ca, dir, dir, dir, ntpPort, kePort)
	path := filepath.Join(dir, "nts-client.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before := time.Now()
	out, err := exec.CommandContext(ctx, bin, "-Q", "-u", "root", "-t", "20", "-f", path).CombinedOutput()
	after := time.Now()
	m := wrongBy.FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("chronyd -Q over NTS got no authenticated sample (%v):\n%s", err, out)
	}
	d, perr := time.ParseDuration(string(m[1]) + "s")
	if perr != nil {
		t.Fatal(perr)
	}
	return d, before.Add(after.Sub(before) / 2), longestDelay(t, dir)
}

// TestChronydNTS: chronyd completes NTS-KE with leapsmear and takes an
// authenticated sample, measured on this machine's clock within half the
// round trip chronyd logged plus 1 ms; the same server still answers chronyd
// without NTS.
func TestChronydNTS(t *testing.T) {
	t.Parallel()
	needChronyd(t)
	certs := testcert.New(t, t.TempDir())
	s, kePort := ntsServer(t, certs)
	if off, _, delay := chronydOnce(t, s.port); !ntptest.OffsetWithin(off, 0, delay) {
		t.Errorf("chronyd without NTS measured %v (round trip %v)", off, delay)
	}
	nts, _, delay := chronydNTS(t, certs.CA, s.port, kePort)
	t.Logf("chronyd -Q over NTS: System clock wrong by %v, round trip %v", nts, delay)
	if !ntptest.OffsetWithin(nts, 0, delay) {
		t.Errorf("chronyd measured %v (round trip %v) over NTS against a server on the same clock", nts, delay)
	}
}

// TestChronydNTSReplay2016: authenticated samples during a replayed leap
// (a quarter into the 2016 noon-to-noon smear) carry the smeared time.
func TestChronydNTSReplay2016(t *testing.T) {
	t.Parallel()
	needChronyd(t)
	certs := testcert.New(t, t.TempDir())
	s, kePort := ntsServer(t, certs, "--policy", "noon-to-noon", "--time-offset-to", "2016-12-31T18:00:00Z", "--require-nts")
	off, at, delay := chronydNTS(t, certs.CA, s.port, kePort)
	p := predict(t, "noon-to-noon", shiftOf(t, s.summary), at)
	t.Logf("chronyd -Q over NTS: wrong by %v; predicted %v (policy %v); error %v", off, p.offset, p.policy, off-p.offset)
	if !within(p.policy, -250*time.Millisecond, time.Millisecond) {
		t.Fatalf("policy offset %v at the replayed instant", p.policy)
	}
	if !ntptest.OffsetWithin(off, p.offset, delay) {
		t.Errorf("chronyd measured %v, want %v (round trip %v)", off, p.offset, delay)
	}
}

// TestChronydNTSFleet: server A's NTS-KE sends chronyd to server B for NTP
// (--nts-ntp-server); the two share a key file, so B accepts A's cookies and
// chronyd gets authenticated samples from B.
func TestChronydNTSFleet(t *testing.T) {
	t.Parallel()
	needChronyd(t)
	dir := t.TempDir()
	certs := testcert.New(t, dir)
	keys := filepath.Join(dir, "nts.keys")
	if out, err := exec.Command(leapsmear(t), "nts-keys", "-o", keys).CombinedOutput(); err != nil {
		t.Fatalf("nts-keys: %v\n%s", err, out)
	}
	b, _ := ntsServer(t, certs, "--nts-key-file", keys, "--require-nts")
	a, keA := ntsServer(t, certs, "--nts-key-file", keys, "--nts-ntp-server", b.addr)
	if rec := a.waitLog(t, `"nts-ke listening"`, 1)[0]; rec["ntp_server"] != b.addr {
		t.Fatalf("A names %v for NTP, want B at %s", rec["ntp_server"], b.addr)
	}
	// chronyd asks A's NTS-KE; the port it is given for NTP is ignored when
	// the NTPv4 Server/Port records name another (RFC 8915 section 4.1.7).
	off, _, delay := chronydNTS(t, certs.CA, a.port, keA)
	t.Logf("chronyd -Q over NTS, cookies from A, time from B: wrong by %v, round trip %v", off, delay)
	if !ntptest.OffsetWithin(off, 0, delay) {
		t.Errorf("chronyd measured %v (round trip %v)", off, delay)
	}
}
