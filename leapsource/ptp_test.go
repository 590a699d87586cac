package leapsource

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapcheck"
)

// startPTP4l runs ptp4l alone on a veth pair in a network namespace of its
// own (software timestamping; it never touches the clock: free_running)
// and returns its management socket, which is a file and so reachable from
// this namespace. It becomes grandmaster after its announce timeout.
func startPTP4l(t *testing.T) (socket string, pmc func(cmd string) string) {
	t.Helper()
	bin := testenv.Program(t, "ptp4l", "linuxptp")
	pmcBin := testenv.Program(t, "pmc", "linuxptp")
	testenv.Program(t, "ip", "iproute2")
	ns := fmt.Sprintf("lsrcptp%d", os.Getpid())
	out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput()
	testenv.Need(t, err == nil, fmt.Sprintf("cannot create a network namespace (ip netns add: %v: %s); run as root", err, strings.TrimSpace(string(out))))
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range [][]string{{"link", "set", "lo", "up"}, {"link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"link", "set", "v0", "up"}, {"link", "set", "v1", "up"}} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	dir := t.TempDir()
	socket = filepath.Join(dir, "ptp4l")
	conf := filepath.Join(dir, "ptp4l.conf")
	if err := os.WriteFile(conf, []byte("[global]\nuds_address "+socket+"\nfree_running 1\npriority1 10\nannounceReceiptTimeout 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Buffer{}
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "-f", conf, "-i", "v0", "-S", "-m")
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("ptp4l:\n%s", logs)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(socket); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ptp4l made no management socket within 10 s:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pmc = func(c string) string {
		out, err := exec.Command(pmcBin, "-u", "-b", "0", "-s", socket, "-i", filepath.Join(dir, "pmc.sock"), c).CombinedOutput()
		if err != nil {
			t.Fatalf("pmc %q: %v: %s", c, err, out)
		}
		return string(out)
	}
	return socket, pmc
}

// TestPTP: a real ptp4l, grandmaster of its own domain, announces what its
// grandmaster settings say: nothing, then leap61 (an inserted second
// tonight), then leap59.
func TestPTP(t *testing.T) {
	socket, pmc := startPTP4l(t)
	src := NewPTP(socket)
	at := utc("2027-12-31T12:00:00Z")
	if o := src.Read(context.Background(), at); o.Err != nil || o.Announces != nil || o.Kind != leapcheck.KindPTP || o.Group != leapcheck.HostGroup {
		t.Fatalf("before: %+v", o)
	}
	for _, c := range []struct {
		leap61, leap59 int
		want           string
	}{{1, 0, "2027-12-31 +1"}, {0, 1, "2027-12-31 -1"}, {0, 0, ""}} {
		pmc(fmt.Sprintf("SET GRANDMASTER_SETTINGS_NP clockClass 248 clockAccuracy 0xfe offsetScaledLogVariance 0xffff "+
			"currentUtcOffset 37 leap61 %d leap59 %d currentUtcOffsetValid 1 ptpTimescale 1 timeTraceable 1 "+
			"frequencyTraceable 0 timeSource 0xa0", c.leap61, c.leap59))
		// The data set follows once ptp4l has become grandmaster.
		deadline := time.Now().Add(15 * time.Second)
		for {
			o := src.Read(context.Background(), at)
			tp, err := src.TimeProperties(context.Background())
			if o.Err == nil && announced(o) == c.want && err == nil && tp.CurrentUTCOffset == 37 && tp.CurrentUTCOffsetValid {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("leap61 %d leap59 %d: %+v, %+v %v", c.leap61, c.leap59, o, tp, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// A grandmaster that states GPS-UTC (18 s) as its UTC offset is
	// faulty against the table: named, never followed.
	pmc("SET GRANDMASTER_SETTINGS_NP clockClass 248 clockAccuracy 0xfe offsetScaledLogVariance 0xffff " +
		"currentUtcOffset 18 leap61 0 leap59 0 currentUtcOffsetValid 1 ptpTimescale 1 timeTraceable 1 " +
		"frequencyTraceable 0 timeSource 0x20")
	deadline := time.Now().Add(15 * time.Second)
	for {
		o := src.Read(context.Background(), at)
		if o.Err == nil && o.TAIMinusUTC != nil && *o.TAIMinusUTC == 18 {
			r := leapcheck.Check(leap.Default(), time.Now(), []leapcheck.Observation{o}, leapcheck.Options{})
			if r.Verdict != leapcheck.FaultySource || !slices.Equal(r.Faulty(), []string{src.Name()}) {
				t.Errorf("currentUtcOffset 18: verdict %v, faulty %q, problems %q", r.Verdict, r.Faulty(), r.Problems)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("currentUtcOffset 18 never read: %+v", o)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestPTPMissing(t *testing.T) {
	o := NewPTP(filepath.Join(t.TempDir(), "ptp4l")).Read(context.Background(), time.Now())
	if o.Err == nil || !strings.Contains(o.Err.Error(), "ptp4l management socket") {
		t.Errorf("%+v", o)
	}
}
