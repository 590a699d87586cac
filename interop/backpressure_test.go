package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/testenv"
)

// TestSlowPathOutDoesNotStarveOthers: a flood arrives on an interface whose
// way out is slow (a veth limited to 64 kbit/s by a token bucket), so that
// its replies fill the socket's send buffer. The server never waits for room:
// it drops what does not fit (counted as send_errors_total{reason=
// "buffer_full"}) and goes on reading, so a polite client on loopback,
// served by the same socket, still gets answers (its replies compete for
// the same buffer, so not all of them). A server that waited on the full
// buffer read a batch per reply the slow path let out, and answered none of
// the polite client's ten requests. (Separate listen addresses have separate
// sockets and buffers: a slow path on one never touches another.)
//
// Two network namespaces made by the test: the server's (lo and a veth,
// 10.78.0.1) and the flooder's (10.78.0.2). Needs root and iproute2's ip and
// tc.
func TestSlowPathOutDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	testenv.Program(t, "tc", "iproute2")
	ipPath := testenv.Program(t, "ip", "iproute2")
	prefix := fmt.Sprintf("lsbp%d", os.Getpid()%100000)
	srvNS, floodNS := prefix+"-s", prefix+"-f"
	addNetns(t, ipPath, srvNS)
	addNetns(t, ipPath, floodNS)
	mustRun(t, ipPath, "-n", srvNS, "link", "set", "lo", "up")
	mustRun(t, ipPath, "-n", srvNS, "link", "add", "slow0", "type", "veth", "peer", "name", "eth0", "netns", floodNS)
	mustRun(t, ipPath, "-n", srvNS, "addr", "add", "10.78.0.1/24", "dev", "slow0")
	mustRun(t, ipPath, "-n", srvNS, "link", "set", "slow0", "up")
	mustRun(t, ipPath, "-n", floodNS, "addr", "add", "10.78.0.2/24", "dev", "eth0")
	mustRun(t, ipPath, "-n", floodNS, "link", "set", "eth0", "up")
	mustRun(t, ipPath, "-n", floodNS, "link", "set", "lo", "up")
	// A slow way out of the server's namespace that queues rather than
	// drops: queued replies stay charged to the sending socket.
	mustRun(t, ipPath, "netns", "exec", srvNS, "tc", "qdisc", "add", "dev", "slow0", "root", "tbf",
		"rate", "64kbit", "burst", "1600", "limit", "4000000")

	inSrv := []string{ipPath, "netns", "exec", srvNS}
	s := startWrapped(t, inSrv, "--listen", "0.0.0.0:11123", "--sockets", "1", "--admin", "127.0.0.1:9123")
	bin := leapsmear(t)
	flood := exec.Command(ipPath, "netns", "exec", floodNS, bin, "bench", "--target", "10.78.0.1:11123",
		"--allow-remote", "--duration", "8s", "--rate", "20000", "--workers", "1", "--window", "1024", "--timeout", "5ms", "--json")
	var floodOut strings.Builder
	flood.Stdout, flood.Stderr = &floodOut, &floodOut
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flood.Process.Kill(); _ = flood.Wait() })
	time.Sleep(2 * time.Second) // the send buffer fills within this

	answered, asked := 0, 0
	for range 10 {
		asked++
		q := exec.Command(inSrv[0], append(inSrv[1:], bin, "query", "--json", "--timeout", "1s", "127.0.0.1:11123")...)
		out, err := q.Output()
		if err == nil && strings.Contains(string(out), `"stratum": 2`) {
			answered++
		} else {
			t.Logf("polite query %d: %v %s", asked, err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	m := parseMetrics(helperIn(t, inSrv, "get", "http://127.0.0.1:9123/metrics"))
	_ = flood.Wait()
	full := m[`leapsmear_send_errors_total{reason="buffer_full"}`]
	received := m["leapsmear_requests_received_total"]
	var bench struct{ Sent float64 }
	if err := json.Unmarshal([]byte(floodOut.String()), &bench); err != nil {
		t.Fatalf("bench output %q: %v", floodOut.String(), err)
	}
	t.Logf("polite client on loopback: %d of %d answered during the flood; server received %v of the %v sent by then, dropped %v replies on the full send buffer",
		answered, asked, received, bench.Sent, full)
	if full == 0 {
		t.Errorf("no reply dropped on a full send buffer: the slow path did not fill it, so this test proves nothing")
	}
	// The metrics were read before the flood ended: most of what was sent
	// had to be read by then. A server waiting on the full buffer reads
	// one batch per reply that the slow path lets out.
	if received < bench.Sent/2 {
		t.Errorf("the server read %v of the %v requests sent: it stopped reading", received, bench.Sent)
	}
	// The polite client's replies share the full buffer with the flood's
	// and may be dropped too; some must get through.
	if answered == 0 {
		t.Errorf("polite client answered 0 of %d: the slow path out starved the socket", asked)
	}
	_ = s
}
