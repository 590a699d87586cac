package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/leap"
)

// binDir holds the leapsmear binary, built once for the whole package.
var binDir string

// helperVar, when set in the environment, makes the test binary a small
// tool instead of running tests (see runHelper), so that a test can run it
// inside a network namespace of its own.
const helperVar = "LEAPSMEAR_INTEROP_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperVar) != "" {
		os.Exit(runHelper(os.Getenv(helperVar), os.Args[len(os.Args)-1]))
	}
	dir, err := os.MkdirTemp("", "leapsmear-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runHelper does one job of the test binary run as a tool: "get" prints
// the body of an HTTP GET of arg (within 5 s) and returns 0 on status 200;
// "forge" sends an NTP request with a forged source (forgeRequest).
func runHelper(job, arg string) int {
	switch job {
	case "get":
	case "forge":
		return forgeRequest(arg)
	default:
		fmt.Fprintf(os.Stderr, "unknown helper job %q\n", job)
		return 2
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(arg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, resp.Status, err)
		return 1
	}
	return 0
}

// helperIn runs the test binary's helper job with arg through wrap (such
// as ip netns exec NS) and returns its output.
func helperIn(t *testing.T, wrap []string, job, arg string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	argv := append(slices.Clone(wrap), self, arg)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), helperVar+"="+job)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v", job, arg, err)
	}
	return string(out)
}

var build struct {
	once sync.Once
	path string
	err  error
}

// leapsmear returns the path of the binary built from this module.
func leapsmear(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			build.err = fmt.Errorf("go command not on PATH: %w", err)
			return
		}
		path := filepath.Join(binDir, "leapsmear")
		// Without cgo, as releases are built (and as --user needs to harden
		// every thread).
		cmd := exec.Command(gobin, "build", "-o", path, "github.com/leapsmear/leapsmear/cmd/leapsmear")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		build.path = path
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// records parses JSON log lines and returns those whose message contains
// msg, or is msg exactly when msg is quoted ("\"serving\""). Numbers stay
// json.Number, so that nanosecond counts keep every digit.
func records(t *testing.T, log, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(log, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var rec map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&rec); err != nil {
			continue // a line being written
		}
		m, _ := rec["msg"].(string)
		if exact, err := strconv.Unquote(msg); err == nil && m == exact || err != nil && strings.Contains(m, msg) {
			out = append(out, rec)
		}
	}
	return out
}

// server is a `leapsmear serve` subprocess.
type server struct {
	cmd     *exec.Cmd
	logs    *testenv.Buffer
	addr    string         // 127.0.0.1:port, the first listen address
	port    int            // its port
	addrs   []string       // every listen address, in order
	summary map[string]any // the start-up summary
	exited  chan struct{}
	waitErr error // valid once exited is closed
}

// startServer runs `leapsmear serve` on a free loopback port (unless args
// name a --listen), synchronised whatever adjtimex says, logging JSON, with
// the given extra flags, and waits (up to 10 s) for its start-up summary. The
// server is killed when the test ends, if it still runs.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	return startWrapped(t, nil, args...)
}

// startWrapped is startServer with the command run through wrap, a command
// line such as setpriv's that ends by executing its arguments (so that the
// process started is, in the end, the server).
func startWrapped(t *testing.T, wrap []string, args ...string) *server {
	t.Helper()
	bin := leapsmear(t)
	full := []string{"serve", "--assume-synced", "--log-format", "json", "--sockets", "1"}
	if !slices.Contains(args, "--listen") {
		full = append(full, "--listen", "127.0.0.1:0")
	}
	full = append(full, args...)
	argv := append(slices.Clone(wrap), bin)
	argv = append(argv, full...)
	s := &server{cmd: exec.Command(argv[0], argv[1:]...), logs: &testenv.Buffer{}, exited: make(chan struct{})}
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start leapsmear serve: %v", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("%s\n%s", strings.Join(argv, " "), s.logs)
		}
	})
	deadline := time.After(10 * time.Second)
	for {
		if recs := records(t, s.logs.String(), `"serving"`); len(recs) > 0 {
			s.summary = recs[0]
			listen, _ := s.summary["listen"].([]any)
			if len(listen) == 0 {
				t.Fatalf("serving on %v", s.summary["listen"])
			}
			for _, a := range listen {
				s.addrs = append(s.addrs, a.(string))
			}
			s.addr = s.addrs[0]
			_, port, _ := strings.Cut(s.addr, ":")
			s.port, _ = strconv.Atoi(port)
			if s.port == 0 {
				t.Fatalf("serving on %s", s.addr)
			}
			return s
		}
		select {
		case <-s.exited:
			t.Fatalf("leapsmear serve exited: %v\n%s", s.waitErr, s.logs)
		case <-deadline:
			t.Fatalf("leapsmear serve: no start-up summary within 10 s\n%s", s.logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// serveThenScript is the shell script serveThen runs in a network
// namespace of its own: with the loopback up, it starts `leapsmear serve`
// with its arguments, logging to serve.log in the folder $DIR, waits (10 s
// at most) for it to serve, runs the shell script $CLIENT (its output to
// client.out and client.err), then stops the server with SIGTERM and writes
// its exit status to serve.exit. It exits with the client's status, or 90
// to 92 when the loopback or the server failed.
const serveThenScript = `
"$IP" link set lo up || exit 90
"$LEAPSMEAR" serve --assume-synced --log-format json --sockets 1 "$@" 2>"$DIR/serve.log" &
pid=$!
i=0
until grep -q '"msg":"serving"' "$DIR/serve.log"; do
	kill -0 "$pid" 2>/dev/null || exit 91
	i=$((i + 1)); [ "$i" -gt 200 ] && { kill "$pid"; exit 92; }
	sleep 0.05
done
sh -c "$CLIENT" >"$DIR/client.out" 2>"$DIR/client.err"
rc=$?
kill -TERM "$pid"
wait "$pid"
echo "$?" >"$DIR/serve.exit"
exit "$rc"
`

// serveThen runs, in a network namespace of its own (so that port 123, or
// NTS-KE's 4460, is free and no other test's), `leapsmear serve` with args
// (on 127.0.0.1:123 unless they name a --listen) and, once it serves, the
// shell script client; then it stops the server with SIGTERM; all within
// timeout. The client finds a scratch folder as $DIR, the leapsmear binary
// as $LEAPSMEAR, and env (NAME=value) besides; its output goes to the files
// client.out and client.err of the folder. serveThen returns a reader of
// the files in the folder (serve.log is the server's log) and the local
// time in the middle of the run. It fails the test, showing every file, when
// the client or the server fails, and when the server did not exit cleanly
// on SIGTERM.
func serveThen(t *testing.T, timeout time.Duration, args []string, client string, env ...string) (read func(name string) string, at time.Time) {
	t.Helper()
	unshare, ip := needNetns(t)
	bin := leapsmear(t)
	dir := t.TempDir()
	if !slices.Contains(args, "--listen") {
		args = append([]string{"--listen", "127.0.0.1:123"}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, append([]string{"-n", "sh", "-c", serveThenScript, "sh"}, args...)...)
	cmd.Env = append(os.Environ(), "IP="+ip, "LEAPSMEAR="+bin, "DIR="+dir, "CLIENT="+client)
	cmd.Env = append(cmd.Env, env...)
	before := time.Now()
	out, err := cmd.CombinedOutput()
	at = before.Add(time.Since(before) / 2)
	read = func(name string) string {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		return string(data)
	}
	files := func() string {
		var b strings.Builder
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			fmt.Fprintf(&b, "%s:\n%s\n", e.Name(), read(e.Name()))
		}
		return b.String()
	}
	if err != nil {
		t.Fatalf("serve %s, then %s, in a namespace: %v\n%s\n%s", strings.Join(args, " "), client, err, out, files())
	}
	if status := strings.TrimSpace(read("serve.exit")); status != "0" {
		t.Errorf("the server did not exit cleanly on SIGTERM: exit status %s\n%s", status, files())
	}
	return read, at
}

// waitLog waits up to 5 s for a log record whose message contains msg.
func (s *server) waitLog(t *testing.T, msg string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs := records(t, s.logs.String(), msg)
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log %q within 5 s:\n%s", msg, s.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// adminGet returns the body of GET path (/metrics, /api/status) from the
// admin endpoints of a server started with --admin 127.0.0.1:0, failing the
// test unless they answer 200 within 5 s.
func (s *server) adminGet(t *testing.T, path string) []byte {
	t.Helper()
	addr, _ := s.waitLog(t, "admin endpoints listening", 1)[0]["admin"].(string)
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", path, resp.Status, err)
	}
	return body
}

// shift returns the replay shift the server logged at start (0 if none).
func shiftOf(t *testing.T, summary map[string]any) leap.TAI {
	t.Helper()
	n, ok := summary["time_shift_tai"].(json.Number)
	if !ok {
		return 0
	}
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		t.Fatalf("time_shift_tai %v: %v", n, err)
	}
	return leap.TAI(v)
}

// prediction is what a client should measure against a server.
type prediction struct {
	offset time.Duration // served time minus local time
	policy time.Duration // of which the smear's part: served minus true UTC
	rate   float64       // the served clock's frequency offset, ppm
	li     int           // the leap indicator announced
}

// predict computes, from the embedded table (which the binary embeds too),
// the policy and the server's replay shift, what a client measures at the
// local instant at: the served time minus the local time. The host clock
// maps to TAI through the table; the served instant is that plus the
// shift; the served time is the policy's smear of it.
func predict(t *testing.T, policy string, shift leap.TAI, at time.Time) prediction {
	t.Helper()
	tbl := leap.Default()
	s := ntptest.Smear(t, tbl, policy)
	x := tbl.TAIFromTime(at) + shift
	return prediction{
		offset: s.Served(x).Time().Sub(at),
		policy: s.Offset(x),
		rate:   s.RatePPM(x),
		li:     s.LI(x),
	}
}

func within(a, b, tol time.Duration) bool { return (a - b).Abs() <= tol }

// leapFile is the leap-seconds.list embedded in the binary.
const leapFile = "../leap/data/leap-seconds.list"

// needFaketime returns the path of libfaketime, skipping (or failing) the
// test where the Debian package faketime is not installed.
func needFaketime(t *testing.T) string {
	t.Helper()
	lib := testenv.LibFaketime()
	testenv.Need(t, lib != "", "libfaketime (Debian package faketime)")
	return lib
}

// fakedChronyd is a chronyd started by startFakedChronyd.
type fakedChronyd struct {
	out  *testenv.Buffer // its output
	done chan struct{}   // closed when it exits; err says how
	err  error
}

// startFakedChronyd runs `chronyd -x -d` (never touching the clock) with
// the configuration conf in dir, its own clock shifted by shift through
// libfaketime (the host clock is untouched), until the test ends; its output
// is logged if the test fails.
func startFakedChronyd(t *testing.T, chronyd, libfaketime, dir, conf string, shift time.Duration) *fakedChronyd {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "c.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &fakedChronyd{out: &testenv.Buffer{}, done: make(chan struct{})}
	cmd := exec.Command(chronyd, "-x", "-d", "-u", "root", "-f", filepath.Join(dir, "c.conf"))
	cmd.Env = append(os.Environ(), "LD_PRELOAD="+libfaketime, fmt.Sprintf("FAKETIME=%+ds", int64(shift/time.Second)))
	cmd.Stdout, cmd.Stderr = c.out, c.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			t.Logf("chronyd:\n%s", c.out)
		}
	})
	return c
}
