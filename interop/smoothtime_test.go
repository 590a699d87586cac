package interop

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/leap"
)

// TestChronydSmoothtime runs a real chronyd with quadratic-17h's
// configuration ('smoothtime 400 0.001024 leaponly', 'leapsecmode slew', -x
// so that it never touches the clock) through a rehearsed leap of each
// sign, and checks that its smoothing curve starts where quadratic-17h's
// window does: at the leap for an inserted second, 2 s before it for a
// deleted one.
//
// chronyd only leaps on 30 June or 31 December, so both programs run 2030-06-30
// 23:59:30 UTC by the same shift: leapsmear by --time-offset, chronyd through
// libfaketime. leapsmear serves the step policy (LI=2 or 1 during the day,
// true UTC) with a rehearsal leap at the end of the day, and chronyd follows
// it. After the leap, `chronyc smoothing` reports the remaining time and the
// frequency of the curve: with the time on the continuous scale, each gives
// the curve's start (62 500 s before its end; frequency/wander after its
// start).
func TestChronydSmoothtime(t *testing.T) {
	needChronyd(t)
	chronyc := testenv.Program(t, "chronyc", "chrony")
	libfaketime := needFaketime(t)
	for _, sign := range []int{1, -1} {
		t.Run(fmt.Sprintf("sign%+d", sign), func(t *testing.T) {
			t.Parallel()
			smoothtime(t, sign, chronyc, libfaketime)
		})
	}
}

func smoothtime(t *testing.T, sign int, chronyc, libfaketime string) {
	midnight := time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC)
	leapsmear(t) // built before the shift is taken
	shift := time.Until(midnight.Add(-30 * time.Second)).Truncate(time.Second)
	s := startServer(t, "--policy", "step", "--time-offset", shift.String(),
		"--rehearse", fmt.Sprintf("%s,%+d", midnight.Format(time.RFC3339), sign))

	// Where quadratic-17h starts, on the continuous scale U (POSIX time
	// before the leap), which is also what chronyd's uncorrected clock reads.
	table, err := leap.Default().WithRehearsal(midnight, sign)
	if err != nil {
		t.Fatal(err)
	}
	sm := ntptest.Smear(t, table, "quadratic-17h")
	w, ok := sm.Next(table.TAIFromTime(midnight.Add(-time.Hour)))
	if !ok {
		t.Fatal("no rehearsal window")
	}
	start := time.Unix(0, int64(w.Start)-int64(w.Event.Before())*leap.Second).UTC()
	wantStart := midnight
	if sign < 0 {
		wantStart = midnight.Add(-2 * time.Second)
	}
	if !start.Equal(wantStart) {
		t.Fatalf("quadratic-17h starts at %v on U, want %v", start, wantStart)
	}

	bin := needChronyd(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil { // chronyd's command socket wants a private folder
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "c.sock")
	conf := fmt.Sprintf(`server 127.0.0.1 port %d iburst minpoll 0 maxpoll 0
smoothtime 400 0.001024 leaponly
leapsecmode slew
port 0
cmdport 0
bindcmdaddress %s
pidfile %s/c.pid
`, s.port, sock, dir)
	chronyd := startFakedChronyd(t, bin, libfaketime, dir, conf, shift)

	// The smoothing report, and the instant on U (the shifted clock) in
	// the middle of the query.
	report := func() (map[string]string, time.Time) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		before := time.Now()
		text, err := exec.CommandContext(ctx, chronyc, "-h", sock, "smoothing").CombinedOutput()
		after := time.Now()
		if err != nil {
			return nil, time.Time{}
		}
		fields := map[string]string{}
		for _, line := range strings.Split(string(text), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				fields[strings.TrimSpace(k)] = strings.Fields(v)[0]
			}
		}
		return fields, before.Add(after.Sub(before) / 2).Add(shift).UTC()
	}
	number := func(r map[string]string, key string) float64 {
		v, err := strconv.ParseFloat(r[key], 64)
		if err != nil {
			t.Fatalf("chronyc smoothing %q: %q", key, r[key])
		}
		return v
	}
	deadline := time.Now().Add(60 * time.Second)
	var r map[string]string
	var at time.Time
	for {
		select {
		case <-chronyd.done:
			t.Fatalf("chronyd exited: %v", chronyd.err)
		case <-time.After(500 * time.Millisecond):
		}
		r, at = report()
		if r != nil && r["Remaining time"] != "" && number(r, "Remaining time") > 60000 && at.After(midnight.Add(3*time.Second)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chronyd did not smooth the leap within a minute; last report %v at %v", r, at)
		}
	}
	// The curve lasts 62 500 s; its frequency grows by 0.001024 ppm/s.
	const length, wander = 62500.0, 0.001024
	fromEnd := at.Add(time.Duration((number(r, "Remaining time") - length) * 1e9))
	fromFreq := at.Add(-time.Duration(math.Abs(number(r, "Frequency")) / wander * 1e9))
	t.Logf("sign %+d at %v: %v; curve starts at %v (remaining time) and %v (frequency); quadratic-17h at %v",
		sign, at.Format("15:04:05.000"), r, fromEnd.Format("15:04:05.000"), fromFreq.Format("15:04:05.000"), start.Format("15:04:05.000"))
	// chronyc rounds the remaining time to 0.1 s and the frequency to 1e-6
	// ppm (1 ms of the curve); the query takes a few milliseconds.
	for what, got := range map[string]time.Time{"remaining time": fromEnd, "frequency": fromFreq} {
		if d := got.Sub(start); d.Abs() > 150*time.Millisecond {
			t.Errorf("sign %+d: by its %s chronyd's curve starts at %v, %v from quadratic-17h's %v",
				sign, what, got.Format("15:04:05.000"), d, start.Format("15:04:05.000"))
		}
	}
}
