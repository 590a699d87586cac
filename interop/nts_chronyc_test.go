package interop

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/testcert"
	"github.com/leapsmear/leapsmear/internal/testenv"
)

// chronyc runs `chronyc -h SOCKET -N -c ARGS...` (CSV, names as configured,
// no DNS) and returns its lines split at the commas.
func chronyc(t *testing.T, bin, socket string, args ...string) [][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append([]string{"-h", socket, "-N", "-c"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("chronyc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" {
			rows = append(rows, strings.Split(line, ","))
		}
	}
	return rows
}

// chronyRow returns the row of rows whose field i is name, nil if none.
func chronyRow(rows [][]string, i int, name string) []string {
	for _, r := range rows {
		if len(r) > i && r[i] == name {
			return r
		}
	}
	return nil
}

// chronydNTSView is what chronyc says of its one NTS source, from the CSV
// of authdata, sources and ntpdata (chronyc(1) lists the columns; the CSV
// keeps their order, ntpdata printing a value and its unit twice where the
// text does, "Poll interval: -2 (0 seconds)").
type chronydNTSView struct {
	authdata, sources, ntpdata []string
	// authdata: Mode KeyID Type KLen Last Atmp NAK Cook CLen.
	mode                         string
	keyID, aead, keyBits         int
	attempts, nak, cookies, clen int
	// sources: S (selection state, '*' selected) and Reach (octal).
	state string
	reach int64
	// ntpdata: Authenticated, Offset (server minus local, NTP's sign),
	// Peer delay, Total valid RX.
	authenticated bool
	offset, delay time.Duration
	validRX       int
	// tracking: Ref time, the time on chronyd's clock (which follows the
	// source, -x keeping the host's untouched) of its last update.
	refTime time.Time
	at      time.Time // when chronyc was asked
}

func (v chronydNTSView) String() string {
	return fmt.Sprintf("authdata %q, sources %q, ntpdata %q, tracking ref time %s", v.authdata, v.sources, v.ntpdata,
		v.refTime.UTC().Format(time.RFC3339Nano))
}

// viewChronydNTS asks chronyd, through chronyc, about its source at host.
func viewChronydNTS(t *testing.T, bin, socket, host string) chronydNTSView {
	t.Helper()
	v := chronydNTSView{at: time.Now()}
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			return -1
		}
		return n
	}
	seconds := func(s string) time.Duration {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return -1
		}
		return time.Duration(f * 1e9)
	}
	// Name/IP address,Mode,KeyID,Type,KLen,Last,Atmp,NAK,Cook,CLen
	if a := chronyRow(chronyc(t, bin, socket, "authdata"), 0, host); len(a) >= 10 {
		v.authdata = a
		v.mode, v.keyID, v.aead, v.keyBits = a[1], atoi(a[2]), atoi(a[3]), atoi(a[4])
		v.attempts, v.nak, v.cookies, v.clen = atoi(a[6]), atoi(a[7]), atoi(a[8]), atoi(a[9])
	}
	// M,S,Name/IP address,Stratum,Poll,Reach,LastRx,Last sample,...
	if s := chronyRow(chronyc(t, bin, socket, "sources"), 2, host); len(s) >= 6 {
		v.sources = s
		v.state = s[1]
		v.reach, _ = strconv.ParseInt(s[5], 8, 64)
	}
	// Remote address,ID,Remote port,Local address,ID,Leap status,Version,
	// Mode,Stratum,Poll,(s),Precision,(s),Root delay,Root dispersion,
	// Reference ID,(name),Reference time,Offset,Peer delay,Peer dispersion,
	// Response time,Jitter asymmetry,NTP tests x3,Interleaved,Authenticated,
	// TX timestamping,RX timestamping,Total TX,Total RX,Total valid RX,
	// Total good RX.
	if n := chronyRow(chronyc(t, bin, socket, "ntpdata"), 0, host); len(n) >= 34 {
		v.ntpdata = n
		v.authenticated = n[27] == "Yes"
		v.offset, v.delay = seconds(n[18]), seconds(n[19])
		v.validRX = atoi(n[32])
	}
	// Reference ID,Name,Stratum,Ref time,System time,...
	if tr := chronyc(t, bin, socket, "tracking"); len(tr) == 1 && len(tr[0]) >= 4 {
		if f, err := strconv.ParseFloat(tr[0][3], 64); err == nil && f > 0 {
			v.refTime = time.Unix(0, int64(f*1e9))
		}
	}
	return v
}

// TestChronydNTSContinuous runs chronyd (-x, never touching the clock) as a
// continuous NTS client of leapsmear, polling every 0.25 s and accepting only
// authenticated samples (authselectmode require), and asks it through
// chronyc on its command socket how it went: mode NTS with AEAD 15
// (AES-SIV-CMAC-256, 256-bit keys), exactly one NTS-KE (KeyID 1) with no
// attempt pending, no NAK, and cookies left after more authenticated
// samples than the 8 cookies NTS-KE handed out (so the replies refill the
// jar); the source selected ('*', reach > 0), its last sample authenticated
// and on the time predicted within half its round trip plus 1 ms. Both
// outside and during a replayed leap (a quarter into the 2016 noon-to-noon
// smear, with --require-nts).
func TestChronydNTSContinuous(t *testing.T) {
	t.Parallel()
	needChronyd(t)
	chronycBin := testenv.Program(t, "chronyc", "chrony")
	for _, c := range []struct {
		name string
		args []string
	}{
		{"now", nil},
		{"replay 2016", []string{"--time-offset-to", "2016-12-31T18:00:00Z", "--require-nts"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			const policy = "noon-to-noon"
			certs := testcert.New(t, t.TempDir())
			s, kePort := ntsServer(t, certs, append([]string{"--policy", policy}, c.args...)...)
			ke, err := strconv.Atoi(kePort)
			if err != nil {
				t.Fatal(err)
			}
			started := time.Now()
			socket := testenv.Chronyd{Upstream: s.addr, NTS: &testenv.ChronydNTS{KEPort: ke, TrustedCerts: certs.CA}}.Start(t)
			// More authenticated samples than NTS-KE gave cookies: each
			// request spends one, so chronyd lives on the replies' cookies.
			const samples = 8 + 4
			done := func(v chronydNTSView) bool {
				return v.mode == "NTS" && v.keyID >= 1 && v.cookies > 0 && v.state == "*" && v.reach > 0 &&
					v.authenticated && v.validRX >= samples
			}
			var v chronydNTSView
			for deadline := time.Now().Add(30 * time.Second); ; {
				v = viewChronydNTS(t, chronycBin, socket, "127.0.0.1")
				if done(v) || time.Now().After(deadline) {
					break
				}
				time.Sleep(250 * time.Millisecond)
			}
			took := time.Since(started)
			t.Logf("after %v: %v", took.Round(time.Millisecond), v)
			if v.authdata == nil || v.sources == nil || v.ntpdata == nil {
				t.Fatalf("chronyc does not list the source 127.0.0.1: %v", v)
			}
			if v.mode != "NTS" || v.aead != 15 || v.keyBits != 256 {
				t.Errorf("authdata: mode %q, AEAD %d, %d-bit keys; want NTS, 15 (AES-SIV-CMAC-256), 256", v.mode, v.aead, v.keyBits)
			}
			if v.keyID != 1 || v.attempts != 0 {
				t.Errorf("authdata: %d NTS-KE (KeyID), %d attempts since; want exactly one, none pending", v.keyID, v.attempts)
			}
			if v.nak != 0 {
				t.Errorf("authdata: NAK %d", v.nak)
			}
			if v.cookies <= 0 || v.clen <= 0 {
				t.Errorf("authdata: %d cookies of %d bytes after %d samples", v.cookies, v.clen, v.validRX)
			}
			if v.state != "*" || v.reach == 0 {
				t.Errorf("sources: state %q, reach %o; want selected ('*') and reached", v.state, v.reach)
			}
			if !v.authenticated || v.validRX < samples {
				t.Errorf("ntpdata: authenticated %v, %d valid samples; want authenticated, at least %d", v.authenticated, v.validRX, samples)
			}
			// chronyd -x steers a clock of its own, which took the served
			// time (stepping 9 years back for the replay): its last sample
			// finds that clock on the served time.
			if !ntptest.OffsetWithin(v.offset, 0, v.delay) {
				t.Errorf("chronyd's last sample: offset %v from its clock (round trip %v)", v.offset, v.delay)
			}
			// And that clock tells the served time: its last update came
			// after chronyd started and before chronyc was asked.
			shift := shiftOf(t, s.summary)
			from := started.Add(predict(t, policy, shift, started).offset)
			to := v.at.Add(predict(t, policy, shift, v.at).offset + time.Millisecond)
			if v.refTime.Before(from) || v.refTime.After(to) {
				t.Errorf("chronyd's clock at its last update: %s, want the served time from %s to %s", v.refTime.UTC().Format(time.RFC3339Nano),
					from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano))
			}
		})
	}
}
