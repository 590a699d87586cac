package interop

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/leap"
)

// sample is the lowest-delay exchange of a few with a server, and the local
// instant it measured at: the middle of its T1 and T4.
type sample struct {
	resp *client.Response
	at   time.Time
}

// best makes n exchanges with the server at addr, 10 ms apart, through one
// socket, and returns the one with the lowest delay.
func best(ctx context.Context, t *testing.T, addr string, n int) sample {
	t.Helper()
	c, err := client.Dial(ctx, addr, client.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b sample
	for i := range n {
		if i > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		r, err := c.Query(ctx)
		if err != nil {
			t.Fatalf("query %s: %v", addr, err)
		}
		if b.resp == nil || r.Delay < b.resp.Delay {
			b = sample{r, r.T1.Add(r.T4.Sub(r.T1) / 2)}
		}
	}
	return b
}

// kill stops the server with SIGKILL: no clean shutdown, nothing saved.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5 s after SIGKILL")
	}
	ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the server ended with %v, not by SIGKILL", s.waitErr)
	}
}

// restartBudget bounds each restart test, queries and restarts included.
const restartBudget = time.Minute

// TestRestartTimeOffset replays the 2016 leap with --time-offset D, D chosen
// so that the served instant is 2016-12-31T18:00:05Z (a quarter into the
// noon-to-noon smear, the served clock about 0.25 s behind UTC). The server
// is queried, killed with SIGKILL, started again with the same D on the
// same address and queried again through the same client socket. Because
// the smear is a pure function of the table, the policy and the time, every
// measured offset is D plus the policy's offset at the served instant (to
// half the round trip and 1 ms), on both sides: the restart leaves the
// served clock on one curve.
func TestRestartTimeOffset(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), restartBudget)
	defer cancel()
	const policy = "noon-to-noon"
	target := time.Date(2016, 12, 31, 18, 0, 5, 0, time.UTC)
	d := time.Until(target).Round(time.Second)
	args := []string{"--policy", policy, "--time-offset", d.String()}
	// The shift on TAI: D less the leap second the host's clock has seen
	// since the replayed instant.
	tbl := leap.Default()
	now := time.Now()
	shift := tbl.TAIFromTime(now.Add(d)) - tbl.TAIFromTime(now)

	var got [2]sample
	var want [2]prediction
	s := startServer(t, args...)
	addr := s.addr
	for side := range 2 {
		if side == 1 {
			s.kill(t)
			s = startServer(t, append([]string{"--listen", addr}, args...)...)
		}
		if logged := shiftOf(t, s.summary); logged != shift {
			t.Fatalf("side %d: the server logged a shift of %d ns, the table says %d", side, logged, shift)
		}
		got[side] = best(ctx, t, addr, 5)
		want[side] = predict(t, policy, shift, got[side].at)
		off, p := got[side].resp.Offset, want[side]
		if p.offset != d+p.policy {
			t.Fatalf("side %d: the prediction %v is not D %v plus the policy's %v", side, p.offset, d, p.policy)
		}
		if !within(p.policy, -250*time.Millisecond, time.Millisecond) {
			t.Fatalf("side %d: the policy offset at the served instant is %v: the replay is off", side, p.policy)
		}
		t.Logf("side %d: measured D%+v, predicted D%+v (policy), error %v, delay %v",
			side, off-d, p.policy, off-p.offset, got[side].resp.Delay)
		if !ntptest.OffsetWithin(off, p.offset, got[side].resp.Delay) {
			t.Errorf("side %d: measured %v, want D %v + policy %v (error %v, delay %v)", side, off, d, p.policy, off-p.offset, got[side].resp.Delay)
		}
	}
	measured := got[1].resp.Offset - got[0].resp.Offset
	predicted := want[1].offset - want[0].offset
	t.Logf("across the restart (%v apart): the offset moved %v, the policy says %v (error %v)",
		got[1].at.Sub(got[0].at).Round(time.Millisecond), measured, predicted, measured-predicted)
	if !ntptest.OffsetWithin(measured, predicted, got[0].resp.Delay+got[1].resp.Delay) || predicted >= 0 {
		t.Errorf("across the restart the offset moved %v, the policy says %v", measured, predicted)
	}
	if took := time.Since(begin); took > restartBudget {
		t.Errorf("took %v, over the budget of %v", took, restartBudget)
	}
}

// TestRestartTimeOffsetTo replays the 2016 leap with --time-offset-to X: the
// served instant is X when the server starts and X plus the time since then
// afterwards. Killed with SIGKILL and started again with the same X, the
// server starts the replay over at X, and again serves the policy's time at
// X plus the time since its start (to half the round trip and 1 ms).
func TestRestartTimeOffsetTo(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), restartBudget)
	defer cancel()
	const policy = "noon-to-noon"
	x := time.Date(2016, 12, 31, 18, 0, 0, 0, time.UTC)
	args := []string{"--policy", policy, "--time-offset-to", x.Format(time.RFC3339)}
	tbl := leap.Default()

	var s *server
	for side := range 2 {
		var listen []string
		if side == 1 {
			s.kill(t)
			listen = []string{"--listen", s.addr}
		}
		before := time.Now()
		s = startServer(t, append(listen, args...)...)
		after := time.Now()
		// Let some time pass, so that "since the start" is not nothing.
		time.Sleep(300 * time.Millisecond)
		b := best(ctx, t, s.addr, 5)
		shift := shiftOf(t, s.summary)
		p := predict(t, policy, shift, b.at)
		// The instant replayed at the query, on UTC, minus X: the time since
		// the server read its clock at start, which lies between before
		// and after.
		served := tbl.UnixFromTAI(tbl.TAIFromTime(b.at) + shift).Time().Sub(x)
		sinceMax, sinceMin := b.at.Sub(before), b.at.Sub(after)
		t.Logf("side %d: replaying X+%v (started %v..%v before the query); measured offset %v, predicted %v (policy %v), error %v",
			side, served.Round(time.Microsecond), sinceMin.Round(time.Microsecond), sinceMax.Round(time.Microsecond),
			b.resp.Offset, p.offset, p.policy, b.resp.Offset-p.offset)
		if served < sinceMin-time.Millisecond || served > sinceMax+time.Millisecond {
			t.Errorf("side %d: replaying X+%v, but the server started %v to %v before the query", side, served, sinceMin, sinceMax)
		}
		if !within(p.policy, -250*time.Millisecond, time.Millisecond) {
			t.Fatalf("side %d: the policy offset at the replayed instant is %v: the replay is off", side, p.policy)
		}
		if !ntptest.OffsetWithin(b.resp.Offset, p.offset, b.resp.Delay) {
			t.Errorf("side %d: measured %v, want %v (error %v, delay %v)", side, b.resp.Offset, p.offset, b.resp.Offset-p.offset, b.resp.Delay)
		}
	}
	if took := time.Since(begin); took > restartBudget {
		t.Errorf("took %v, over the budget of %v", took, restartBudget)
	}
}
