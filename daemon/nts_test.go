package daemon

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/testcert"
	"github.com/leapsmear/leapsmear/nts"
	"github.com/leapsmear/leapsmear/ntske"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// startNTSManual starts a daemon with NTS on a ManualClock.
func startNTSManual(t *testing.T, at time.Time, keyFile string, certs *testcert.Files) (*Daemon, *timescale.ManualClock, *logBuffer) {
	t.Helper()
	p, _ := smear.Parse("noon-to-noon")
	clock := timescale.NewManualClock(at)
	logs := &logBuffer{}
	d, err := Start(context.Background(), Config{
		Server: server.Config{Listen: []string{"127.0.0.1:0"}, SocketsPerAddress: 1},
		Policy: p,
		Source: timescale.Config{Clock: clock, CheckInterval: -1, AssumeSynced: true,
			Kernel: func() (timescale.KernelState, error) { return timescale.KernelState{}, nil }},
		Settings:      server.Settings{Stratum: 2},
		Logger:        slog.New(slog.NewJSONHandler(logs, nil)),
		CheckInterval: -1,
		NTS:           &NTSConfig{KEListen: "127.0.0.1:0", CertFile: certs.Cert, KeyFile: certs.Key, CookieKeyFile: keyFile},
	})
	if err != nil {
		t.Fatal(err)
	}
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
