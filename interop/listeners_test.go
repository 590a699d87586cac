package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/ntp"
)

// TestChronydEveryListener: chronyd accepts each listener of one server, a
// stepping and a smearing one (declaring its smear in the reference ID,
// --refid-smear draft), during the replayed 2016 leap day, and measures on
// each the time its policy predicts, within half the round trip chronyd
// measured.
func TestChronydEveryListener(t *testing.T) {
	t.Parallel()
	needChronyd(t)
	policies := []string{"step", "noon-to-noon"}
	s := startServer(t, "--listen", "127.0.0.1:0="+policies[0], "--listen", "127.0.0.1:0="+policies[1],
		"--refid-smear", "draft", "--time-offset-to", "2016-12-31T18:00:00Z")
	if len(s.addrs) != 2 {
		t.Fatalf("serving on %v", s.addrs)
	}
	shift := shiftOf(t, s.summary)
	for i, a := range s.addrs {
		_, port, _ := strings.Cut(a, ":")
		p, _ := strconv.Atoi(port)
		off, at, delay := chronydOnce(t, p)
		want := predict(t, policies[i], shift, at)
		t.Logf("%s (%s): chronyd -Q wrong by %v; predicted %v (policy %v); round trip %v", a, policies[i], off, want.offset, want.policy, delay)
		if !ntptest.OffsetWithin(off, want.offset, delay) {
			t.Errorf("%s (%s): chronyd measured %v, want %v (round trip %v)", a, policies[i], off, want.offset, delay)
		}
	}
}

// twoListeners asks, with ntpdig, the stepping listener on 127.0.0.1:123
// and the smearing one on 127.0.0.2:123 (ntpdig asks port 123 only) of one
// server (see TestNtpdigEveryListener).
const twoListeners = `
rc=0
` + ntpdigCmd + ` 127.0.0.1 >"$DIR/step.json" || rc=$?
` + ntpdigCmd + ` 127.0.0.2 >"$DIR/smear.json" || rc=$?
exit "$rc"
`

// TestNtpdigEveryListener: ntpsec's SNTP client accepts both listeners of
// one server during the replayed 2016 leap day: the stepping one announces
// the leap, the smearing one (which declares its smear in the reference ID)
// does not, and each offset is the one its policy predicts, within ntpdig's
// own error bound.
func TestNtpdigEveryListener(t *testing.T) {
	t.Parallel()
	read, at := serveThen(t, 30*time.Second, []string{"--listen", "127.0.0.1:123=step", "--listen", "127.0.0.2:123=noon-to-noon",
		"--time-offset-to", "2016-12-31T18:00:00Z", "--refid-smear", "draft"}, twoListeners, needNtpdig(t))
	summaries := records(t, read("serve.log"), `"serving"`)
	if len(summaries) != 1 {
		t.Fatalf("server log:\n%s", read("serve.log"))
	}
	shift := shiftOf(t, summaries[0])
	for _, c := range []struct {
		file, policy, leap string
	}{
		{"step.json", "step", "add-leap"},
		{"smear.json", "noon-to-noon", "no-leap"},
	} {
		var res ntpdigResult
		if err := json.Unmarshal([]byte(read(c.file)), &res); err != nil {
			t.Fatalf("ntpdig output %q: %v", read(c.file), err)
		}
		off, err := time.ParseDuration(res.Offset.String() + "s")
		if err != nil {
			t.Fatalf("ntpdig offset %q: %v", res.Offset, err)
		}
		// The instant of each ntpdig run is within the whole run, which
		// the replay's rate (11.6 ppm over a few seconds) makes tens of
		// microseconds at most, well inside ntpdig's bound.
		p := predict(t, c.policy, shift, at)
		bound, err := time.ParseDuration(res.Precision.String() + "s")
		if err != nil {
			t.Fatalf("ntpdig precision %q: %v", res.Precision, err)
		}
		t.Logf("%s: ntpdig offset %v leap %s stratum %d; predicted %v (policy %v); bound %v", c.policy, off, res.Leap, res.Stratum, p.offset, p.policy, bound)
		if !ntptest.OffsetWithin(off, p.offset, 2*bound) || res.Leap != c.leap || res.Stratum != 2 {
			t.Errorf("%s: ntpdig %+v offset %v, want %v and %s", c.policy, res, off, p.offset, c.leap)
		}
	}
}

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

// TestChronydSmoothRefID: a real chronyd serving smoothed time declares it
// in its reference ID (127.127.1.255), and our client reads that as a
// declared smear. chronyd ('smoothtime 400 0.001024 leaponly', the policy
// quadratic-17h mirrors) follows a stepping leapsmear through a rehearsed
// leap at 2030-06-30T24:00Z, both shifted there (leapsmear by --time-offset,
// chronyd through libfaketime; chronyd only leaps at a month's end), and
// serves on a loopback port of its own: before the leap its reference ID is
// its upstream's address and it declares nothing; once it smooths the leap,
// the reference ID is chrony's smoothing marker.
func TestChronydSmoothRefID(t *testing.T) {
	t.Parallel()
	bin := needChronyd(t)
	libfaketime := needFaketime(t)
	midnight := time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC)
	leapsmear(t) // built before the shift is taken
	shift := time.Until(midnight.Add(-20 * time.Second)).Truncate(time.Second)
	s := startServer(t, "--policy", "step", "--time-offset", shift.String(),
		"--rehearse", midnight.Format(time.RFC3339)+",+1")
	port := freeUDPPort(t)
	dir := t.TempDir()
	conf := fmt.Sprintf(`server 127.0.0.1 port %d iburst minpoll 0 maxpoll 0
smoothtime 400 0.001024 leaponly
leapsecmode slew
port %d
bindaddress 127.0.0.1
allow 127.0.0.1
cmdport 0
pidfile %s/c.pid
`, s.port, port, dir)
	chronyd := startFakedChronyd(t, bin, libfaketime, dir, conf, shift)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	sawUpstream := false
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-chronyd.done:
			t.Fatalf("chronyd exited: %v", chronyd.err)
		case <-time.After(500 * time.Millisecond):
		}
		resp, err := client.Query(context.Background(), addr, client.Options{Timeout: time.Second, SmearInfo: true})
		served := time.Now().Add(shift)
		if err == nil {
			d := resp.Smear()
			switch resp.Header.ReferenceID {
			case ntp.RefIDFromAddr(netip.MustParseAddr("127.0.0.1")):
				sawUpstream = true
				if d.Smearing != client.SmearUnknown {
					t.Errorf("chronyd not smoothing, at %v: declared %+v", served, d)
				}
			case ntp.RefIDChronySmooth:
				t.Logf("at %v chronyd's reference ID is %s: %s (%s)", served.Format(time.RFC3339), resp.RefID(), d.Smearing, d.Evidence)
				if d.Smearing != client.SmearYes || !strings.Contains(d.Evidence, "chrony") || served.Before(midnight) {
					t.Errorf("declared %+v at %v", d, served)
				}
				if !sawUpstream {
					t.Error("chronyd never answered with its upstream's reference ID before smoothing")
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("chronyd did not serve smoothed time within a minute; last reply %+v, %v", resp, err)
		}
	}
}
