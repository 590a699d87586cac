package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/leap"
)

// wrongBy is chronyd -Q's verdict: how far the local clock is from the
// server's time, positive when the local clock is behind (the server's time
// minus the local time, the same sign as an NTP offset).
var wrongBy = regexp.MustCompile(`System clock wrong by (-?[0-9]+\.[0-9]+) seconds`)

// needChronyd returns the path of chronyd, skipping (or failing, in CI)
// where it is missing or cannot run: it needs root for -x and -Q and for
// staying root (-u root) in its scratch folder.
func needChronyd(t *testing.T) string {
	t.Helper()
	bin := testenv.Program(t, "chronyd", "chrony")
	testenv.Need(t, os.Geteuid() == 0, "chronyd runs as root here (uid "+strconv.Itoa(os.Geteuid())+")")
	return bin
}

// chronydOnce runs `chronyd -Q` (measure once, never touch the clock)
// against the server on a loopback port and returns the offset it printed,
// the local time in the middle of its run, and the longest round trip of
// its measurements (its measurements log, "Peer del."): the offset is off by
// at most half of it.
func chronydOnce(t *testing.T, port int) (time.Duration, time.Time, time.Duration) {
	t.Helper()
	bin := needChronyd(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	before := time.Now()
	out, err := exec.CommandContext(ctx, bin, "-Q", "-u", "root", "-t", "10",
		fmt.Sprintf("server 127.0.0.1 port %d iburst maxsamples 1", port),
		"pidfile "+filepath.Join(dir, "q.pid"), "logdir "+dir, "log measurements").CombinedOutput()
	after := time.Now()
	m := wrongBy.FindSubmatch(out)
	if m == nil {
		t.Fatalf("chronyd -Q measured nothing (%v):\n%s", err, out)
	}
	d, perr := time.ParseDuration(string(m[1]) + "s")
	if perr != nil {
		t.Fatalf("chronyd -Q: %v", perr)
	}
	return d, before.Add(after.Sub(before) / 2), longestDelay(t, dir)
}

// longestDelay reads the measurements log chronyd wrote in dir ("log
// measurements") and returns the longest round trip ("Peer del.") of its
// samples.
func longestDelay(t *testing.T, dir string) time.Duration {
	t.Helper()
	log, err := os.ReadFile(filepath.Join(dir, "measurements.log"))
	if err != nil {
		t.Fatalf("chronyd: %v", err)
	}
	var delay time.Duration
	samples := 0
	for _, line := range strings.Split(string(log), "\n") {
		f := strings.Fields(line)
		if len(f) < 13 || !strings.HasPrefix(f[0], "20") {
			continue // the header
		}
		s, err := strconv.ParseFloat(f[12], 64)
		if err != nil {
			t.Fatalf("chronyd measurements log: peer delay %q: %v\n%s", f[12], err, log)
		}
		delay = max(delay, time.Duration(s*1e9))
		samples++
	}
	if samples == 0 {
		t.Fatalf("chronyd logged no measurement:\n%s", log)
	}
	return delay
}

// TestChronydOneShot: chronyd accepts the server (stratum 2, LI 0) and
// measures it on this machine's clock within half the round trip it
// measured (and 1 ms for reading the clocks).
func TestChronydOneShot(t *testing.T) {
	t.Parallel()
	needChronyd(t)
	s := startServer(t)
	off, _, delay := chronydOnce(t, s.port)
	t.Logf("chronyd -Q: System clock wrong by %v, round trip %v", off, delay)
	if !ntptest.OffsetWithin(off, 0, delay) {
		t.Errorf("chronyd measured %v (round trip %v) against a server on the same clock", off, delay)
	}
}

// TestChronydReplay2016 replays the 2016 leap second: the server serves
// the time of 2016-12-31T18:00Z (a quarter into the noon-to-noon smear, the
// served clock 0.25 s behind UTC) or 2017-01-01T06:00Z (three quarters in,
// 0.25 s ahead). chronyd must measure the replay shift plus that offset,
// within half the round trip it measured and 1 ms. The shift comes from the server's start-up log for
// --time-offset-to, and is computed by the test for --time-offset.
func TestChronydReplay2016(t *testing.T) {
	t.Parallel()
	needChronyd(t)
	tbl := leap.Default()
	before := time.Date(2016, 12, 31, 18, 0, 0, 0, time.UTC)
	now := time.Now()
	d := before.Sub(now).Round(time.Second)
	dShift := tbl.TAIFromTime(now.Add(d)) - tbl.TAIFromTime(now)
	for _, c := range []struct {
		name   string
		args   []string
		shift  leap.TAI // 0: read it from the log
		policy time.Duration
	}{
		{"18:00 before the leap", []string{"--time-offset-to", "2016-12-31T18:00:00Z"}, 0, -250 * time.Millisecond},
		{"06:00 after the leap", []string{"--time-offset-to", "2017-01-01T06:00:00Z"}, 0, 250 * time.Millisecond},
		{"--time-offset to 18:00", []string{"--time-offset", d.String()}, dShift, -250 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, append([]string{"--policy", "noon-to-noon"}, c.args...)...)
			logged := shiftOf(t, s.summary)
			if c.shift != 0 && logged != c.shift {
				t.Errorf("server logged a shift of %d ns, the table says %d", logged, c.shift)
			}
			off, at, delay := chronydOnce(t, s.port)
			p := predict(t, "noon-to-noon", logged, at)
			t.Logf("chronyd -Q: wrong by %v; predicted %v = replay %v + policy %v; error %v",
				off, p.offset, p.offset-p.policy, p.policy, off-p.offset)
			if !within(p.policy, c.policy, time.Millisecond) {
				t.Fatalf("the policy offset at the replayed instant is %v, want %v: the replay is off", p.policy, c.policy)
			}
			if !ntptest.OffsetWithin(off, p.offset, delay) {
				t.Errorf("chronyd measured %v, want %v (error %v, round trip %v)", off, p.offset, off-p.offset, delay)
			}
		})
	}
}

// measurement is one line of chronyd's measurements.log.
type measurement struct {
	leap, stratum, tests123, tests567, refid, mode string
	line                                           string
}

// runChronyd runs chronyd as a continuous client of the server (polling
// every 0.25 s, never touching the clock: -x) until enough reports true for
// its measurements and the last line of its tracking log (split in fields),
// or limit has passed, then stops it with SIGTERM. It returns the
// measurements and the last tracking line.
func runChronyd(t *testing.T, port int, limit time.Duration, enough func([]measurement, []string) bool) ([]measurement, []string) {
	t.Helper()
	bin := needChronyd(t)
	dir := t.TempDir()
	conf := fmt.Sprintf(`server 127.0.0.1 port %d iburst minpoll -2 maxpoll -2 maxsamples 240
port 0
cmdport 0
pidfile %s/cli.pid
logdir %s/log
log measurements statistics tracking
`, port, dir, dir)
	if err := os.Mkdir(filepath.Join(dir, "log"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cli.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &testenv.Buffer{}
	cmd := exec.Command(bin, "-x", "-d", "-u", "root", "-f", filepath.Join(dir, "cli.conf"))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	logPath := filepath.Join(dir, "log", "measurements.log")
	trackingPath := filepath.Join(dir, "log", "tracking.log")
	deadline := time.After(limit)
wait:
	for {
		select {
		case err := <-exited:
			t.Fatalf("chronyd exited early: %v\n%s", err, out)
		case <-deadline:
			break wait
		case <-time.After(100 * time.Millisecond):
		}
		if enough(readMeasurements(t, logPath), lastTracking(trackingPath)) {
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(3 * time.Second):
		t.Errorf("chronyd did not stop within 3 s of SIGTERM")
		_ = cmd.Process.Kill()
		<-exited
	}
	ms := readMeasurements(t, logPath)
	tracking := lastTracking(trackingPath)
	if t.Failed() || len(ms) == 0 {
		t.Logf("chronyd output:\n%s", out)
	}
	return ms, tracking
}

// lastTracking returns the last line of chronyd's tracking log split in
// fields, or nil before there is one.
func lastTracking(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Fields(lines[len(lines)-1])
}

func readMeasurements(t *testing.T, path string) []measurement {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var ms []measurement
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		// Date Time IP L St 123 567 ABCD LP RP Score Offset PeerDel PeerDisp RootDel RootDisp Refid MTxRx
		if len(f) < 18 || f[2] != "127.0.0.1" {
			continue
		}
		ms = append(ms, measurement{leap: f[3], stratum: f[4], tests123: f[5], tests567: f[6], refid: f[16], mode: f[17], line: line})
	}
	return ms
}

// TestChronydContinuous runs chronyd as a continuous client polling every
// 0.25 s during a replayed 2016 leap. Every measurement must pass RFC 5905's
// tests 1-3 and 5-7 and carry the leap indicator of the policy: none while
// noon-to-noon smears (a smear never announces), '+' from the step policy
// on the last day. chrony's frequency estimate must match the policy's rate:
// the served clock runs 11.57 ppm slow during the noon-to-noon smear, at the
// host's rate under step.
func TestChronydContinuous(t *testing.T) {
	t.Parallel()
	needChronyd(t)
	for _, c := range []struct {
		policy, at, leap string
	}{
		{"noon-to-noon", "2016-12-31T18:00:00Z", "N"},
		{"step", "2016-12-31T20:00:00Z", "+"},
	} {
		t.Run(c.policy, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "--policy", c.policy, "--time-offset-to", c.at)
			// The test tells a smearing server (11.574 ppm) from a stepping
			// one (0): chrony's estimate must be good to a third of that.
			// chronyd runs until its skew says so (on a loaded machine
			// that takes longer than the 7 s of 28 polls), for at most a
			// minute.
			resolvable := 1e6 / 86400 / 3
			ms, tracking := runChronyd(t, s.port, time.Minute, func(ms []measurement, tracking []string) bool {
				if len(ms) < 28 || len(tracking) < 6 {
					return false
				}
				skew, err := strconv.ParseFloat(tracking[5], 64)
				return err == nil && skew <= resolvable/2
			})
			if len(ms) < 10 {
				t.Fatalf("chronyd made %d measurements in a minute", len(ms))
			}
			for _, m := range ms {
				if m.leap != c.leap || m.stratum != "2" || m.tests123 != "111" || m.tests567 != "111" ||
					m.refid != "4C534D52" || !strings.HasPrefix(m.mode, "4") {
					t.Errorf("measurement: %s", m.line)
				}
			}
			p := predict(t, c.policy, shiftOf(t, s.summary), time.Now())
			if len(tracking) < 6 {
				t.Fatalf("no tracking log line: %q", tracking)
			}
			freq, err1 := strconv.ParseFloat(tracking[4], 64)
			skew, err2 := strconv.ParseFloat(tracking[5], 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("tracking line %q", tracking)
			}
			// chrony's frequency is the local clock's against the server:
			// positive when the server's clock runs slow.
			want := -p.rate
			t.Logf("%d measurements, leap %q; chrony's frequency %.3f ppm (skew %.3f), the policy's rate %.3f ppm",
				len(ms), ms[0].leap, freq, skew, p.rate)
			// A skew beyond that after a minute means the measurement is
			// noise, and so would be the verdict.
			if skew > resolvable || freq-want > max(1, 3*skew) || want-freq > max(1, 3*skew) {
				t.Errorf("chrony measured the served clock at %.3f ppm (skew %.3f), want %.3f", freq, skew, want)
			}
		})
	}
}
