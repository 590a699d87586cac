package interop

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/testenv"
)

// ntpdigCmd asks a server with ntpsec's ntpdig (found as $NTPDIG, see
// needNtpdig) for JSON: four samples, of which ntpdig reports the one with
// the least delay. The server's address follows.
const ntpdigCmd = `"$NTPDIG" -j -t 2 -p 4 -g 50`

// needNtpdig returns the environment (for serveThen) in which ntpdigCmd
// finds ntpdig, skipping (or failing) the test where it is not installed.
func needNtpdig(t *testing.T) string {
	t.Helper()
	return "NTPDIG=" + testenv.Program(t, "ntpdig", "ntpsec-ntpdig")
}

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

// ntpdig queries a server started with the given flags on 127.0.0.1:123
// in a network namespace of its own (ntpdig cannot query another port) and
// returns ntpdig's result, its offset, the local time in the middle of the
// run and the server's start-up summary.
func ntpdig(t *testing.T, args ...string) (ntpdigResult, time.Duration, time.Time, map[string]any) {
	t.Helper()
	read, at := serveThen(t, 20*time.Second, args, ntpdigCmd+" 127.0.0.1", needNtpdig(t))
	var res ntpdigResult
	if err := json.Unmarshal([]byte(read("client.out")), &res); err != nil {
		t.Fatalf("ntpdig output %q: %v", read("client.out"), err)
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
