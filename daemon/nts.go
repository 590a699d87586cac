package daemon

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leapsmear/leapsmear/internal/netaddr"
	"github.com/leapsmear/leapsmear/internal/option"
	"github.com/leapsmear/leapsmear/nts"
	"github.com/leapsmear/leapsmear/ntske"
)

// NTSConfig turns on Network Time Security (RFC 8915).
type NTSConfig struct {
	// KEListen is the NTS-KE address, host:port (TCP).
	KEListen string
	// CertFile and KeyFile are the TLS certificate chain and private key of
	// NTS-KE, PEM; reloaded on Reload, a bad pair keeping the last good one.
	CertFile, KeyFile string
	// NTPServer is the host:port that NTS-KE names for NTP (the NTPv4 Server
	// and Port records); "" names the first listen address, or only its
	// port when that address is a wildcard.
	NTPServer string
	// CookieKeyFile is the fleet's cookie key file (see nts.KeyFile); ""
	// means a random key for this process, whose cookies die with it.
	CookieKeyFile string
	// Require drops NTP requests that are not NTS-authenticated.
	Require bool
	// KETimeout bounds each NTS-KE connection; 0 means ntske.DefaultTimeout.
	KETimeout time.Duration
}

// Validate checks the NTS options; its errors name them.
func (c *NTSConfig) Validate() error {
	switch {
	case c.CertFile == "" || c.KeyFile == "":
		return option.Errorf("nts-cert", c.CertFile, "NTS needs both --nts-cert and --nts-key")
	case c.KEListen == "":
		return option.Errorf("nts-ke-listen", c.KEListen, "want host:port")
	case c.KETimeout < 0:
		return option.Errorf("nts-ke-timeout", c.KETimeout, "want a positive duration")
	}
	if _, err := netaddr.Listen(c.KEListen); err != nil {
		return option.Errorf("nts-ke-listen", c.KEListen, "want host:port such as 127.0.0.1:4460")
	}
	if c.NTPServer != "" {
		if _, _, err := netaddr.SplitTarget(c.NTPServer, 0); err != nil {
			return option.Errorf("nts-ntp-server", c.NTPServer, "want HOST:PORT")
		}
	}
	return nil
}

// ntsState is NTS in a running daemon.
type ntsState struct {
	cfg      NTSConfig
	srv      *nts.Server
	ke       *ntske.Server
	mu       sync.Mutex // serialises rotation and reloads
	keyFile  *nts.KeyFile
	reloads  atomic.Uint64
	failures atomic.Uint64
	lastErr  atomic.Pointer[string]
}

// NTSStatus is NTS in a Status snapshot.
type NTSStatus struct {
	// KEListen is the bound NTS-KE address.
	KEListen string
	// NTPServer is what NTS-KE names for NTP ("" for none).
	NTPServer string
	// KeySource is the cookie key file, or "random (this process only)".
	KeySource string
	// Keys is the number of cookie keys that open cookies; Period the
	// rotation period number, SealKeyID the key sealing new cookies, and
	// NextRotation when the next one takes over.
	Keys         int
	Period       int64
	SealKeyID    uint32
	NextRotation time.Time
	// CertNotAfter is the expiry of the NTS-KE certificate in use.
	CertNotAfter time.Time
	// KE counts NTS-KE connections: OK, and failed by reason.
	KE ntske.Stats
	// Require says unauthenticated requests are dropped.
	Require bool
	// Reloads and ReloadFailures count reloads of the certificate and key
	// file; ReloadError is the error of the last one if it failed.
	Reloads, ReloadFailures uint64
	ReloadError             string
}

// loadKeyFile reads the cookie key file, or makes a random one.
func loadKeyFile(path string) (*nts.KeyFile, error) {
	if path == "" {
		return nts.NewKeyFile(rand.Reader)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nts key file: %w", err)
	}
	kf, err := nts.ParseKeyFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kf, nil
}

// startNTS sets up NTS once the NTP sockets are bound: key ring, responder
// hook, and the NTS-KE listener, returned as a service of the daemon.
func (d *Daemon) startNTS() (Service, error) {
	cfg := d.cfg.NTS
	kf, err := loadKeyFile(cfg.CookieKeyFile)
	if err != nil {
		return nil, err
	}
	ring, err := kf.Ring(d.hostNow().Unix())
	if err != nil {
		return nil, err
	}
	st := &ntsState{cfg: *cfg, keyFile: kf, srv: nts.NewServer(ring, rand.Reader)}
	host, port, err := d.ntpServerRecord()
	if err != nil {
		return nil, err
	}
	st.ke, err = ntske.Listen(ntske.ServerConfig{
		Listen: cfg.KEListen, CertFile: cfg.CertFile, KeyFile: cfg.KeyFile,
		NTPServer: host, NTPPort: port, Ring: st.srv.Ring, Timeout: cfg.KETimeout, Logger: d.log,
	})
	if err != nil {
		return nil, err
	}
	d.nts = st
	for _, l := range d.listeners {
		l.resp.SetNTS(st.srv, cfg.Require)
	}
	keySource := cfg.CookieKeyFile
	if keySource == "" {
		keySource = "random (cookies die with this process)"
	}
	d.log.Info("nts-ke listening", "nts_ke", st.ke.Addr().String(), "ntp_server", joinRecord(host, port),
		"cookie_keys", keySource, "rotation", kf.Rotation.String(), "accept_previous", kf.Accept,
		"require_nts", cfg.Require, "certificate_expires", st.ke.Certificate().Leaf.NotAfter.UTC().Format(time.RFC3339))
	return st.ke, nil
}

func joinRecord(host string, port uint16) string {
	if host == "" {
		return ":" + strconv.Itoa(int(port))
	}
	return ntske.JoinHostPort(host, port)
}

// ntpServerRecord is the NTPv4 Server and Port that NTS-KE sends.
func (d *Daemon) ntpServerRecord() (string, uint16, error) {
	addr := d.cfg.NTS.NTPServer
	if addr == "" {
		a := d.srv.Addrs()[0]
		if a.Addr().IsUnspecified() {
			return "", a.Port(), nil // the client uses the NTS-KE host
		}
		return a.Addr().String(), a.Port(), nil
	}
	host, port, err := netaddr.SplitTarget(addr, 0) // checked by Validate
	if err != nil {
		return "", 0, fmt.Errorf("nts ntp server: %w", err)
	}
	return host, uint16(port), nil
}

// rotateNTS builds the next key ring once the current one's period is over.
func (d *Daemon) rotateNTS(now time.Time) {
	st := d.nts
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if now.Unix() < st.srv.Ring().Expires() {
		return
	}
	ring, err := st.keyFile.Ring(now.Unix())
	if err != nil {
		d.log.Error("nts key rotation failed; keeping the current keys", "error", err)
		return
	}
	st.srv.SetRing(ring)
	d.log.Info("nts cookie key rotated", "seal_key_id", fmt.Sprintf("%#08x", ring.SealKeyID()), "keys", ring.Len(),
		"next_rotation", time.Unix(ring.Expires(), 0).UTC().Format(time.RFC3339))
}

// reloadNTS reads the certificate and the cookie key file again; what fails
// to load is logged and the last good one kept.
func (d *Daemon) reloadNTS() error {
	st := d.nts
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.reloads.Add(1)
	var errs []error
	if err := st.ke.ReloadCertificate(); err != nil {
		d.log.Error("nts certificate reload failed; keeping the last good certificate", "error", err)
		errs = append(errs, err)
	}
	if st.cfg.CookieKeyFile != "" {
		kf, err := loadKeyFile(st.cfg.CookieKeyFile)
		var ring *nts.Ring
		if err == nil {
			ring, err = kf.Ring(d.hostNow().Unix())
		}
		if err != nil {
			d.log.Error("nts key file reload failed; keeping the last good keys", "error", err)
			errs = append(errs, err)
		} else {
			st.keyFile = kf
			st.srv.SetRing(ring)
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		st.failures.Add(1)
		msg := err.Error()
		st.lastErr.Store(&msg)
		return err
	}
	st.lastErr.Store(nil)
	d.log.Info("nts certificate and keys reloaded", "certificate_expires",
		st.ke.Certificate().Leaf.NotAfter.UTC().Format(time.RFC3339), "keys", st.srv.Ring().Len())
	return nil
}

// NTSStatus returns the state of NTS, nil when it is off.
func (d *Daemon) NTSStatus() *NTSStatus {
	st := d.nts
	if st == nil {
		return nil
	}
	ring := st.srv.Ring()
	host, port, _ := d.ntpServerRecord()
	out := &NTSStatus{
		KEListen: st.ke.Addr().String(), NTPServer: joinRecord(host, port),
		KeySource: st.cfg.CookieKeyFile, Keys: ring.Len(), Period: ring.Period(), SealKeyID: ring.SealKeyID(),
		NextRotation: time.Unix(ring.Expires(), 0), CertNotAfter: st.ke.Certificate().Leaf.NotAfter,
		KE: st.ke.Stats(), Require: st.cfg.Require,
		Reloads: st.reloads.Load(), ReloadFailures: st.failures.Load(),
	}
	if out.KeySource == "" {
		out.KeySource = "random (this process only)"
	}
	if p := st.lastErr.Load(); p != nil {
		out.ReloadError = *p
	}
	return out
}
