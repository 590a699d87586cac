package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Chronyd describes a chronyd for a test: started with -x (it never touches
// the clock), as root in a private folder, with its command socket there.
type Chronyd struct {
	// Upstream is the host:port of its one NTP server, polled every 250 ms;
	// empty means none (chronyd then never synchronises).
	Upstream string
	// FakeTime, when set, makes chronyd believe that it started at that
	// instant: it runs under libfaketime (Debian package faketime), which
	// fakes the clock of that one process and no other. chronyd arms a leap
	// second only on the last day of June or December by its own clock, so
	// a test of a leap on such a day needs this.
	FakeTime time.Time
	// NTS, when set, makes chronyd an NTS client of Upstream (RFC 8915)
	// that accepts only authenticated samples (authselectmode require).
	NTS *ChronydNTS
}

// ChronydNTS is how chronyd reaches its upstream over NTS.
type ChronydNTS struct {
	// KEPort is the upstream's NTS-KE port (on Upstream's host).
	KEPort int
	// TrustedCerts is the PEM file of the CA that signed the upstream's
	// NTS-KE certificate (ntstrustedcerts).
	TrustedCerts string
}

// LibFaketime returns the path of the libfaketime library (Debian package
// faketime), or "" where it is not installed.
func LibFaketime() string {
	m, _ := filepath.Glob("/usr/lib/*/faketime/libfaketime.so.1")
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

// Start starts chronyd as c describes and returns the path of its command
// socket; chronyd is stopped when the test ends. The test is skipped (or
// fails, when Required) where chronyd or libfaketime is missing or the test
// does not run as root.
func (c Chronyd) Start(t testing.TB) string {
	t.Helper()
	bin := Program(t, "chronyd", "chrony")
	Need(t, os.Geteuid() == 0, "chronyd runs as root here (uid "+strconv.Itoa(os.Geteuid())+")")
	dir := t.TempDir()
	// chronyd refuses a command socket in a folder that others can read.
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "chronyd.sock")
	conf := fmt.Sprintf("port 0\ncmdport 0\nbindcmdaddress %s\npidfile %s\ndriftfile %s\n",
		socket, filepath.Join(dir, "chronyd.pid"), filepath.Join(dir, "drift"))
	if c.Upstream != "" {
		host, port, err := net.SplitHostPort(c.Upstream)
		if err != nil {
			t.Fatalf("chronyd upstream %q: %v", c.Upstream, err)
		}
		opts := ""
		if c.NTS != nil {
			opts = fmt.Sprintf(" nts ntsport %d", c.NTS.KEPort)
			conf += fmt.Sprintf("ntstrustedcerts %s\nntsdumpdir %s\nauthselectmode require\n", c.NTS.TrustedCerts, dir)
		}
		conf = fmt.Sprintf("server %s port %s iburst minpoll -2 maxpoll -2%s\n", host, port, opts) + conf
	}
	confPath := filepath.Join(dir, "chrony.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-x", "-d", "-u", "root", "-f", confPath)
	if !c.FakeTime.IsZero() {
		lib := LibFaketime()
		Need(t, lib != "", "libfaketime is not installed (Debian package faketime)")
		cmd.Env = append(os.Environ(), "LD_PRELOAD="+lib, "FAKETIME=@"+c.FakeTime.UTC().Format(time.DateTime))
	}
	out := &Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("chronyd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("chronyd output:\n%s", out)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(socket); err == nil {
			return socket
		}
		select {
		case err := <-exited:
			t.Fatalf("chronyd exited: %v\n%s", err, out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("chronyd made no command socket within 10 s:\n%s", out)
		}
	}
}
