package interop

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/ntptest"
)

// answers checks that the server still gives time.
func (s *server) answers(t *testing.T, when string) {
	t.Helper()
	r, err := client.Query(context.Background(), s.addr, client.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if !ntptest.OffsetWithin(r.Offset, 0, r.Delay) || r.Header.Stratum != 2 {
		t.Errorf("%s: offset %v (delay %v) stratum %d", when, r.Offset, r.Delay, r.Header.Stratum)
	}
}

// stop sends sig and expects a clean exit (status 0) within 2 s.
func (s *server) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	start := time.Now()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
	case <-time.After(2 * time.Second):
		t.Fatalf("still running 2 s after %v", sig)
	}
	if s.waitErr != nil {
		t.Errorf("exit after %v: %v", sig, s.waitErr)
	}
	if recs := records(t, s.logs.String(), `"stopping"`); len(recs) != 1 || recs[0]["signal"] != sig.String() {
		t.Errorf("stop not logged: %v", recs)
	}
	t.Logf("%v: exited 0 in %v", sig, time.Since(start).Round(time.Millisecond))
}

// TestSignals: SIGHUP reloads the leap file; a corrupt file is logged and
// the last good table kept while the server answers on; a good file is
// taken again; SIGTERM and SIGINT stop the server cleanly and promptly.
func TestSignals(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(leapFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "leap-seconds.list")
			if err := os.WriteFile(file, good, 0o644); err != nil {
				t.Fatal(err)
			}
			s := startServer(t, "--leap-file", file)
			if s.summary["table"] != file {
				t.Fatalf("serving table %v", s.summary["table"])
			}
			// A SIGHUP as soon as the server says it serves: handled, not fatal.
			if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			s.waitLog(t, "leap table reloaded", 1)
			s.answers(t, "at start")

			if err := os.WriteFile(file, []byte("#@\t3913056000\nnot a leap second file\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			failed := s.waitLog(t, "reload failed", 1)[0]
			if msg, _ := failed["error"].(string); failed["level"] != "ERROR" || failed["table"] != file || !strings.Contains(msg, file) {
				t.Errorf("failed reload logged as %v", failed)
			}
			s.answers(t, "after a failed reload")

			if err := os.WriteFile(file, good, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			if ok := s.waitLog(t, "leap table reloaded", 2)[1]; ok["table"] != file || ok["expires"] != "2027-06-28T00:00:00Z" {
				t.Errorf("reload logged as %v", ok)
			}
			if n := len(records(t, s.logs.String(), "SIGHUP")); n != 3 {
				t.Errorf("%d SIGHUPs logged, want 3", n)
			}
			s.answers(t, "after a good reload")
			s.stop(t, sig)
		})
	}
}
