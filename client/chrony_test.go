package client

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/ntp"
)

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// startChronyd runs chronyd as a stratum-1 reference server on a loopback
// port, never touching the clock (-x), and returns its address. The test
// skips when chronyd is not installed.
func startChronyd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("chronyd")
	if err != nil {
		t.Skip("chronyd not installed (apt-get install chrony): skipping the reference-server test")
	}
	dir := t.TempDir()
	port := freeUDPPort(t)
	conf := fmt.Sprintf(`port %d
bindaddress 127.0.0.1
allow 127.0.0.1
local stratum 1
cmdport 0
pidfile %s/chronyd.pid
driftfile %s/drift
`, port, dir, dir)
	confPath := filepath.Join(dir, "chrony.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-x", "-d", "-f", confPath}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root") // else it drops to _chrony and cannot write in dir
	}
	cmd := exec.Command(bin, args...)
	logf, err := os.Create(filepath.Join(dir, "chronyd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chronyd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			log, _ := os.ReadFile(logf.Name())
			t.Logf("chronyd log:\n%s", log)
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// Wait until it answers as a synchronised server.
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := Query(context.Background(), addr, Options{Timeout: 200 * time.Millisecond})
		if err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("chronyd at %s not ready: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAgainstChronyd queries a real chronyd on this machine. Both run on the
// same clock, so the offset must be tiny.
func TestAgainstChronyd(t *testing.T) {
	addr := startChronyd(t)
	for _, version := range []uint8{4, 3} {
		// The best of five exchanges: on a loaded machine one may wait
		// milliseconds for the scheduler, and the offset's error is bounded
		// only by half the round trip.
		var resp *Response
		var took time.Duration // the wall time of the exchange kept
		for i := 0; i < 5; i++ {
			start := time.Now()
			r, err := Query(context.Background(), addr, Options{Timeout: 2 * time.Second, Version: version})
			if err != nil {
				t.Fatalf("version %d: %v", version, err)
			}
			if resp == nil || r.Delay < resp.Delay {
				resp, took = r, time.Since(start)
			}
		}
		h := resp.Header
		if h.Stratum != 1 || h.Leap != ntp.LeapNone || h.Mode != ntp.ModeServer || h.Version != version {
			t.Errorf("version %d: stratum %d leap %d mode %d version %d", version, h.Stratum, h.Leap, h.Mode, h.Version)
		}
		// chrony's local reference identifies itself as 127.127.1.1.
		if h.ReferenceID != 0x7f7f0101 || resp.RefID() != "127.127.1.1" {
			t.Errorf("refid %#x (%s), want 0x7f7f0101", h.ReferenceID, resp.RefID())
		}
		if !ntptest.OffsetWithin(resp.Offset, 0, resp.Delay) {
			t.Errorf("offset %s (delay %s) against a server on the same clock", resp.Offset, resp.Delay)
		}
		// The delay leaves out the server's time, so it cannot exceed the
		// exchange's wall time (1 ms for reading the clocks).
		if resp.Delay < 0 || resp.Delay > took+time.Millisecond {
			t.Errorf("delay %s on loopback, in an exchange of %s", resp.Delay, took)
		}
		if h.Precision < -30 || h.Precision > -10 {
			t.Errorf("precision %d", h.Precision)
		}
		if !resp.T2.After(resp.T1.Add(-time.Millisecond)) || !resp.T3.Before(resp.T4.Add(time.Millisecond)) {
			t.Errorf("timestamps out of order: %s %s %s %s", resp.T1, resp.T2, resp.T3, resp.T4)
		}
		t.Logf("chronyd v%d: stratum %d refid %s offset %s delay %s precision %d root delay %s dispersion %s",
			version, h.Stratum, resp.RefID(), resp.Offset, resp.Delay, h.Precision,
			h.RootDelay.Duration(), h.RootDispersion.Duration())
	}
}
