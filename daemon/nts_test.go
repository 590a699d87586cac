package daemon

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/testcert"
	"github.com/leapsmear/leapsmear/nts"
	"github.com/leapsmear/leapsmear/ntske"
	"github.com/leapsmear/leapsmear/timescale"
)

// startNTSManual starts a daemon with NTS on a ManualClock.
func startNTSManual(t *testing.T, at time.Time, keyFile string, certs *testcert.Files) (*Daemon, *timescale.ManualClock, *logBuffer) {
	t.Helper()
	d, clock, logs := startManualWith(t, at, "noon-to-noon", func(c *Config) {
		c.NTS = &NTSConfig{KEListen: "127.0.0.1:0", CertFile: certs.Cert, KeyFile: certs.Key, CookieKeyFile: keyFile}
	})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	})
	return d, clock, logs
}

// The cookie key rotates when the daemon's check passes a period's end;
// SIGHUP (Reload) takes a new key file, and keeps the last good one when the
// new one is broken.
func TestNTSRotationAndReload(t *testing.T) {
	dir := t.TempDir()
	certs := testcert.New(t, dir)
	keys := filepath.Join(dir, "nts.keys")
	kf, err := nts.NewKeyFile(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kf.Rotation, kf.Accept = time.Hour, 1
	if err := os.WriteFile(keys, kf.Format(), 0o600); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)
	d, clock, _ := startNTSManual(t, at, keys, certs)
	st := d.NTSStatus()
	if st.SealKeyID != nts.KeyID(1, at.Unix()/3600) || st.Keys != 3 || !st.NextRotation.Equal(at.Truncate(time.Hour).Add(time.Hour)) {
		t.Fatalf("status at start: %+v", st)
	}
	// A cookie from NTS-KE now.
	ke, err := ntske.Exchange(context.Background(), st.KEListen, ntske.ClientConfig{RootCAs: certs.Pool})
	if err != nil {
		t.Fatal(err)
	}
	opens := func() error {
		var q nts.Request
		sess, _ := nts.NewSession(ke.Keys, ke.Cookies[:1])
		req := make([]byte, 1024)
		req[0] = 0x23
		n, err := sess.Request(req, make([]byte, 32), make([]byte, 16), 0)
		if err != nil {
			t.Fatal(err)
		}
		return d.nts.srv.Verify(nts.NewScratch(), req[:n], &q)
	}
	clock.Advance(29 * time.Minute)
	d.Check()
	if d.NTSStatus().SealKeyID != st.SealKeyID {
		t.Fatal("rotated before the period ended")
	}
	clock.Advance(2 * time.Minute) // 11:01
	d.Check()
	if got := d.NTSStatus().SealKeyID; got != nts.KeyID(1, at.Unix()/3600+1) {
		t.Fatalf("after the period: sealing with %#x", got)
	}
	if err := opens(); err != nil {
		t.Fatalf("a cookie of the previous period: %v", err)
	}
	clock.Advance(time.Hour) // 12:01: two periods on, accept 1
	d.Check()
	if err := opens(); !errors.Is(err, nts.ErrCookie) {
		t.Fatalf("a cookie two periods old: %v", err)
	}

	// A broken key file is refused and the keys stay.
	before := d.NTSStatus()
	if err := os.WriteFile(keys, []byte("secret 1 zz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err == nil {
		t.Fatal("reloaded a broken key file")
	}
	after := d.NTSStatus()
	if after.SealKeyID != before.SealKeyID || after.ReloadFailures != 1 || after.ReloadError == "" {
		t.Fatalf("after a bad reload: %+v", after)
	}
	// A good one with a second, active secret is taken.
	kf.Secrets = append(kf.Secrets, nts.Secret{ID: 2, Key: [32]byte{7}})
	kf.Active = 2
	if err := os.WriteFile(keys, kf.Format(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := d.NTSStatus(); got.SealKeyID>>24 != 2 || got.Keys != 6 || got.ReloadError != "" {
		t.Fatalf("after reload: %+v", got)
	}
}

// TestNTSProblems: an NTS-KE certificate that expired fails the health
// check, one expiring soon and a failed reload are warnings.
func TestNTSProblems(t *testing.T) {
	host := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		nts  NTSStatus
		sev  Severity
		want string
	}{
		{NTSStatus{CertNotAfter: host.Add(-time.Hour)}, Failing, "the NTS-KE certificate expired on 2026-11-30T11:00:00Z"},
		{NTSStatus{CertNotAfter: host.Add(3 * 24 * time.Hour)}, Warning, "the NTS-KE certificate expires on 2026-12-03T12:00:00Z, in 3 days"},
		{NTSStatus{CertNotAfter: host.Add(90 * 24 * time.Hour), ReloadError: "bad key"}, Warning, "failed, the previous ones are used: bad key"},
	} {
		n := c.nts
		ps := Status{Host: host, NTS: &n}.ntsProblems()
		if len(ps) != 1 || ps[0].Severity != c.sev || !strings.Contains(ps[0].Text, c.want) {
			t.Errorf("%+v: %+v, want %v %q", c.nts, ps, c.sev, c.want)
		}
	}
	n := NTSStatus{CertNotAfter: host.Add(90 * 24 * time.Hour)}
	if ps := (Status{Host: host, NTS: &n}).ntsProblems(); len(ps) != 0 {
		t.Errorf("a healthy NTS: %+v", ps)
	}
}
