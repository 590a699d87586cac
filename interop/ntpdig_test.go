package interop

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/testenv"
)

// inNamespace runs the server on 127.0.0.1:123 inside a network namespace
// of its own (ntpdig cannot query another port), waits for it to serve,
// runs `ntpdig -j` against it (four samples, of which ntpdig reports the
// one with the least delay), and stops the server with SIGTERM.
const inNamespace = `
ip="$1" bin="$2" ntpdig="$3" dir="$4"; shift 4
"$ip" link set lo up || exit 90
"$bin" serve --listen 127.0.0.1:123 --assume-synced --log-format json --sockets 1 "$@" 2>"$dir/serve.log" &
pid=$!
i=0
until grep -q '"msg":"serving"' "$dir/serve.log"; do
	kill -0 "$pid" 2>/dev/null || exit 91
	i=$((i + 1)); [ "$i" -gt 200 ] && { kill "$pid"; exit 92; }
	sleep 0.05
done
"$ntpdig" -j -t 2 -p 4 -g 50 127.0.0.1 >"$dir/ntpdig.json" 2>"$dir/ntpdig.err"
rc=$?
kill -TERM "$pid"
wait "$pid"
echo "server exit status $?" >>"$dir/ntpdig.err"
exit "$rc"
`

// ntpdigResult is ntpdig's JSON output.
type ntpdigResult struct {
	Offset json.Number `json:"offset"`
	// Precision is ntpdig's error bound on the offset ("+/-" in its text
	// output, its synchronisation distance): half the round trip of the
	// sample, plus the clocks' imprecision.
	Precision json.Number `json:"precision"`
	Stratum   int         `json:"stratum"`
	Leap      string      `json:"leap"`
	Host      string      `json:"host"`
}

// ntpdigInNetns runs script (inNamespace, twoListeners) in a network
// namespace of its own, with the ip and leapsmear binaries, ntpdig, a
// scratch folder and args as its arguments, within timeout. It returns a
// reader of the files the script left in the folder and the local time in
// the middle of the run; it fails the test, with the logs, when the script
// fails, and when the server did not exit cleanly on SIGTERM.
func ntpdigInNetns(t *testing.T, script string, timeout time.Duration, args ...string) (read func(name string) string, at time.Time) {
	t.Helper()
	dig := testenv.Program(t, "ntpdig", "ntpsec-ntpdig")
	unshare, ip := needNetns(t)
	bin := leapsmear(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	before := time.Now()
	out, err := exec.CommandContext(ctx, unshare, append([]string{"-n", "sh", "-c", script, "sh", ip, bin, dig, dir}, args...)...).CombinedOutput()
	at = before.Add(time.Since(before) / 2)
	read = func(name string) string {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		return string(data)
	}
	if err != nil {
		t.Fatalf("ntpdig in a namespace: %v\n%s\nserver log:\n%s\nntpdig:\n%s%s", err, out, read("serve.log"), read("ntpdig.json"), read("ntpdig.err"))
	}
	if !strings.Contains(read("ntpdig.err"), "server exit status 0") {
		t.Errorf("the server did not exit cleanly on SIGTERM: %s", read("ntpdig.err"))
	}
	return read, at
}

// ntpdig queries a server started with the given flags in a network
// namespace and returns ntpdig's result, its offset, the local time in the
// middle of the run and the server's start-up summary.
func ntpdig(t *testing.T, args ...string) (ntpdigResult, time.Duration, time.Time, map[string]any) {
	t.Helper()
	read, at := ntpdigInNetns(t, inNamespace, 20*time.Second, args...)
	var res ntpdigResult
	if err := json.Unmarshal([]byte(read("ntpdig.json")), &res); err != nil {
		t.Fatalf("ntpdig output %q: %v", read("ntpdig.json"), err)
	}
	off, err := time.ParseDuration(res.Offset.String() + "s")
	if err != nil {
		t.Fatalf("ntpdig offset %q: %v", res.Offset, err)
	}
	summaries := records(t, read("serve.log"), `"serving"`)
	if len(summaries) != 1 {
		t.Fatalf("server log:\n%s", read("serve.log"))
	}
	return res, off, at, summaries[0]
}

// TestNtpdig: ntpsec's SNTP client accepts the server and measures the
// offset the policy predicts, within ntpdig's own error bound (half the
// round trip and the clocks' imprecision) and 1 ms: on this machine's clock, during
// the replayed 2016 smear (0.25 s behind at 18:00, ahead at 06:00), and it
// reads the leap announced by the step policy on the last day.
func TestNtpdig(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, policy, at, leap string
		want                   time.Duration // the policy's part of the offset
	}{
		{"same clock", "noon-to-noon", "", "no-leap", 0},
		{"18:00 before the leap", "noon-to-noon", "2016-12-31T18:00:00Z", "no-leap", -250 * time.Millisecond},
		{"06:00 after the leap", "noon-to-noon", "2017-01-01T06:00:00Z", "no-leap", 250 * time.Millisecond},
		{"step on the leap day", "step", "2016-12-31T20:00:00Z", "add-leap", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"--policy", c.policy}
			if c.at != "" {
				args = append(args, "--time-offset-to", c.at)
			}
			res, off, at, summary := ntpdig(t, args...)
			p := predict(t, c.policy, shiftOf(t, summary), at)
			t.Logf("ntpdig: offset %v stratum %d leap %s; predicted %v (policy %v); error %v",
				off, res.Stratum, res.Leap, p.offset, p.policy, off-p.offset)
			if !within(p.policy, c.want, time.Millisecond) {
				t.Fatalf("the policy offset at the replayed instant is %v, want %v", p.policy, c.want)
			}
			bound, err := time.ParseDuration(res.Precision.String() + "s")
			if err != nil {
				t.Fatalf("ntpdig precision %q: %v", res.Precision, err)
			}
			if !ntptest.OffsetWithin(off, p.offset, 2*bound) {
				t.Errorf("ntpdig measured %v, want %v (error %v, ntpdig's bound %v)", off, p.offset, off-p.offset, bound)
			}
			if res.Stratum != 2 || res.Leap != c.leap || res.Host != "127.0.0.1" {
				t.Errorf("ntpdig: %+v", res)
			}
		})
	}
}
