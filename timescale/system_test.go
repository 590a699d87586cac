package timescale

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

func TestSystemAnchorExact(t *testing.T) {
	tbl := realTable(t)
	start := mustTime(t, "2020-06-01T12:00:00.123456789Z")
	clk := NewManualClock(start)
	clk.Advance(987654321 * time.Nanosecond) // a monotonic origin other than zero
	clk.Step(-987654321 * time.Nanosecond)
	s := manualSystem(t, clk, tbl, nil)

	r := s.Now()
	if want := leap.TAI(start.UnixNano() + 37*leap.Second); r.TAI != want || r.Real != Realtime(start.UnixNano()) {
		t.Fatalf("at anchor: %+v, want TAI %d Real %d", r, want, start.UnixNano())
	}
	for _, d := range []time.Duration{1, 999, 1500*time.Millisecond + 7, 36 * time.Hour} {
		before := s.Now()
		clk.Advance(d)
		s.Check()
		after := s.Now()
		if got := after.TAI - before.TAI; got != leap.TAI(d) {
			t.Errorf("advance %v: TAI moved %d ns", d, got)
		}
		if got := after.Real - before.Real; got != Realtime(d) {
			t.Errorf("advance %v: Real moved %d ns", d, got)
		}
		if int64(tbl.UnixFromTAI(after.TAI)) != int64(after.Real) {
			t.Errorf("advance %v: UTC of TAI %d != realtime %d", d, tbl.UnixFromTAI(after.TAI), after.Real)
		}
	}
	st := s.Stats()
	if st.Steps != 0 || st.KernelLeaps != 0 || st.Checks != 4 || st.Offset != 0 || st.Source != "system" {
		t.Errorf("stats %+v", st)
	}
	if !st.Anchored.Equal(start) {
		t.Errorf("anchored %v, want %v", st.Anchored, start)
	}
}

// walkLeap advances clk in 100 ms ticks from 60 s before eventUnix to 60 s
// after, applying kernelStep to the realtime when it reaches stepAt (a
// kernel's own leap), checking after every tick that the served TAI moved by
// exactly the tick and maps back to the host realtime.
func walkLeap(t *testing.T, s *System, clk *ManualClock, tbl *leap.Table, stepAt Realtime, kernelStep time.Duration) {
	t.Helper()
	stepped := false
	prev := s.Now()
	for i := 0; i < 1200; i++ {
		clk.Advance(100 * time.Millisecond)
		if real, _ := clk.Now(); real == stepAt && !stepped {
			clk.Step(kernelStep)
			stepped = true
		}
		s.Check()
		r := s.Now()
		if r.TAI-prev.TAI != leap.TAI(100*time.Millisecond) {
			t.Fatalf("tick %d: served TAI moved %v, want 100ms", i, time.Duration(r.TAI-prev.TAI))
		}
		if u := tbl.UnixFromTAI(r.TAI); int64(u) != int64(r.Real) {
			t.Fatalf("tick %d (%s): true UTC %s but the leaping host reads %s", i,
				tbl.LabelFromTAI(r.TAI), fmtNs(u), fmtNs(r.Real))
		}
		prev = r
	}
	if !stepped {
		t.Fatal("the fake kernel never leapt")
	}
}

func TestSystemIgnoresKernelInsertedLeap(t *testing.T) {
	tbl := realTable(t)
	event := date(2017, 1, 1)
	clk := NewManualClock(event.Add(-60 * time.Second))
	logs := &logBuf{}
	s := manualSystem(t, clk, tbl, logs)
	// The kernel inserts 23:59:60 by setting the clock back one second when it
	// reaches midnight.
	walkLeap(t, s, clk, tbl, Realtime(event.UnixNano()), -time.Second)
	st := s.Stats()
	if st.KernelLeaps != 1 || st.Steps != 0 {
		t.Fatalf("kernel leaps %d, steps %d; want 1, 0", st.KernelLeaps, st.Steps)
	}
	if !strings.Contains(logs.String(), "leapt by itself") {
		t.Errorf("no log of the kernel leap:\n%s", logs)
	}
}

func TestSystemIgnoresKernelDeletedLeap(t *testing.T) {
	event := date(2030, 1, 1)
	tbl := withEvent(t, event, -1)
	clk := NewManualClock(event.Add(-60 * time.Second))
	s := manualSystem(t, clk, tbl, nil)
	// The kernel deletes 23:59:59 by jumping forward one second when it
	// reaches it.
	walkLeap(t, s, clk, tbl, Realtime(event.UnixNano()-leap.Second), time.Second)
	if st := s.Stats(); st.KernelLeaps != 1 || st.Steps != 0 {
		t.Fatalf("kernel leaps %d, steps %d; want 1, 0", st.KernelLeaps, st.Steps)
	}
}

// A host that does not apply the leap at midnight and is corrected by its time
// daemon half an hour later: the served time never moves.
func TestSystemLateHostLeap(t *testing.T) {
	tbl := realTable(t)
	event := date(2017, 1, 1)
	clk := NewManualClock(event.Add(-10 * time.Second))
	s := manualSystem(t, clk, tbl, nil)
	tai0 := s.Now().TAI
	elapsed := time.Duration(0)
	step := func(d time.Duration) {
		clk.Advance(d)
		elapsed += d
		s.Check()
		if got := s.Now().TAI - tai0; got != leap.TAI(elapsed) {
			t.Fatalf("after %v the served TAI moved %v", elapsed, time.Duration(got))
		}
	}
	for range 40 { // through midnight: the host now reads one second ahead of UTC
		step(time.Second)
	}
	if st := s.Stats(); st.Offset != time.Second || st.Steps != 0 || st.KernelLeaps != 0 {
		t.Fatalf("host not leaping: stats %+v, want offset 1s and nothing counted", st)
	}
	step(30 * time.Minute)
	clk.Step(-time.Second) // the daemon corrects the host
	step(time.Second)
	if st := s.Stats(); st.Offset != 0 || st.Steps != 0 || st.KernelLeaps != 1 {
		t.Fatalf("after the correction: stats %+v, want offset 0, 1 kernel leap", st)
	}
}

// A host that stays off by the leap is followed once the leap window is over.
func TestSystemFollowsHostOffByLeapAfterWindow(t *testing.T) {
	tbl := realTable(t)
	event := date(2017, 1, 1)
	clk := NewManualClock(event.Add(-10 * time.Second))
	s, err := NewSystem(Config{Table: tbl, Clock: clk, Kernel: syncedKernel(37).read, Logger: (&logBuf{}).logger(),
		CheckInterval: -1, LeapWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 5 { // until 00:49:50
		clk.Advance(10 * time.Minute)
		s.Check()
	}
	if st := s.Stats(); st.Steps != 0 || st.Offset != time.Second {
		t.Fatalf("inside the window: %+v, want the host 1s ahead and no step", st)
	}
	clk.Advance(20 * time.Minute)
	s.Check()
	st := s.Stats()
	if st.Steps != 1 || st.LastStep != time.Second {
		t.Fatalf("after the window: %+v, want one step of 1s", st)
	}
	if r := s.Now(); r.TAI != tbl.TAIFromUnix(leap.UTC(r.Real)) {
		t.Errorf("not re-anchored on the host: TAI %d, host maps to %d", r.TAI, tbl.TAIFromUnix(leap.UTC(r.Real)))
	}
}

func TestSystemFollowsSteps(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   string
		step time.Duration
	}{
		{"forward 3.7s", "2021-03-04T05:06:07.5Z", 3700 * time.Millisecond},
		{"back 3.7s", "2021-03-04T05:06:07.5Z", -3700 * time.Millisecond},
		{"back 1s away from any leap", "2021-03-04T05:06:07Z", -time.Second},
		{"forward 1s just before a positive leap (wrong direction)", "2016-12-31T23:59:57Z", time.Second},
		{"6ms just over the tolerance", "2021-03-04T05:06:07Z", 6 * time.Millisecond},
		{"two days", "2021-03-04T05:06:07Z", -48 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := realTable(t)
			clk := NewManualClock(mustTime(t, tc.at))
			logs := &logBuf{}
			s := manualSystem(t, clk, tbl, logs)
			clk.Advance(time.Second)
			s.Check()
			before := s.Now()
			clk.Step(tc.step)
			s.Check()
			st := s.Stats()
			if st.Steps != 1 || st.LastStep != tc.step || st.KernelLeaps != 0 {
				t.Fatalf("stats %+v, want one step of %v", st, tc.step)
			}
			r := s.Now()
			if got := r.TAI - before.TAI; got != leap.TAI(tc.step) {
				t.Errorf("served time moved %v, want %v", time.Duration(got), tc.step)
			}
			if int64(tbl.UnixFromTAI(r.TAI)) != int64(r.Real) {
				t.Errorf("not re-anchored on the host realtime")
			}
			if !strings.Contains(logs.String(), "re-anchored") || !strings.Contains(logs.String(), "step="+tc.step.String()) {
				t.Errorf("step not logged with its size:\n%s", logs)
			}
			clk.Advance(time.Second)
			s.Check()
			if st := s.Stats(); st.Steps != 1 {
				t.Errorf("re-anchored again: %+v", st)
			}
		})
	}
}

func TestSystemToleratesSmallDrift(t *testing.T) {
	tbl := realTable(t)
	clk := NewManualClock(mustTime(t, "2021-03-04T05:06:07Z"))
	s := manualSystem(t, clk, tbl, nil)
	tai0 := s.Now().TAI
	clk.Step(4 * time.Millisecond)
	clk.Advance(time.Second)
	s.Check()
	if st := s.Stats(); st.Steps != 0 || st.Offset != 4*time.Millisecond {
		t.Fatalf("stats %+v, want no step and offset 4ms", st)
	}
	if got := s.Now().TAI - tai0; got != leap.TAI(time.Second) {
		t.Errorf("served time moved %v, want 1s", time.Duration(got))
	}
}

// A host that had not applied the leap when the source started reads one
// second ahead; its later correction is not a leap of the table's kind (the
// host would then read one second behind the anchor) and is followed.
func TestSystemStartedOnLateHost(t *testing.T) {
	tbl := realTable(t)
	trueUTC := date(2017, 1, 1).Add(10 * time.Minute)
	clk := NewManualClock(trueUTC.Add(time.Second)) // not leapt yet
	s := manualSystem(t, clk, tbl, nil)
	clk.Advance(time.Second)
	clk.Step(-time.Second)
	s.Check()
	st := s.Stats()
	if st.Steps != 1 || st.LastStep != -time.Second {
		t.Fatalf("stats %+v, want one step of -1s", st)
	}
	if got, want := s.Now().TAI, tbl.TAIFromTime(trueUTC.Add(time.Second)); got != want {
		t.Errorf("served %s, want %s", tbl.LabelFromTAI(got), tbl.LabelFromTAI(want))
	}
}

func TestFromRealtimeAfterKernelLeap(t *testing.T) {
	tbl := realTable(t)
	event := date(2017, 1, 1)
	clk := NewManualClock(event.Add(-2 * time.Second))
	s := manualSystem(t, clk, tbl, nil)
	clk.Advance(2 * time.Second)
	clk.Step(-time.Second) // the kernel inserts 23:59:60
	clk.Advance(1200 * time.Millisecond)
	s.Check()
	r := s.Now() // host reads 00:00:00.2, true UTC again
	if want := tbl.TAIFromTime(event.Add(200 * time.Millisecond)); r.TAI != want {
		t.Fatalf("served %s, want %s", tbl.LabelFromTAI(r.TAI), tbl.LabelFromTAI(want))
	}
	rx := r.Real - Realtime(120*time.Microsecond)
	if got := r.FromRealtime(rx); got != r.TAI-leap.TAI(120*time.Microsecond) || int64(tbl.UnixFromTAI(got)) != int64(rx) {
		t.Errorf("FromRealtime(%s) = %s", fmtNs(rx), tbl.LabelFromTAI(got))
	}
	// A receive timestamp taken during 23:59:60 (the host read 23:59:59.8 for
	// the second time) maps to 23:59:60.8, not to the first 23:59:59.8.
	rx = r.Real - Realtime(400*time.Millisecond)
	if got := tbl.LabelFromTAI(r.FromRealtime(rx)).String(); got != "2016-12-31T23:59:60.8Z" {
		t.Errorf("FromRealtime(%s) = %s, want 2016-12-31T23:59:60.8Z", fmtNs(rx), got)
	}
	if st := s.Stats(); st.KernelLeaps != 1 || st.Steps != 0 {
		t.Fatalf("stats %+v, want the kernel leap seen and no step", st)
	}
}

func TestFromRealtimeBounds(t *testing.T) {
	r := Reading{TAI: 1_000 * leap.TAI(leap.Second), Real: Realtime(963 * leap.Second)}
	for _, tc := range []struct {
		rx   Realtime
		want leap.TAI
	}{
		{r.Real, r.TAI},
		{r.Real - 1, r.TAI - 1},
		{r.Real - Realtime(MaxRxAge), r.TAI - leap.TAI(MaxRxAge)},
		{r.Real - Realtime(MaxRxAge) - 1, r.TAI}, // stale or across a step
		{r.Real + 1, r.TAI},                      // after the reading: clock stepped back
	} {
		if got := r.FromRealtime(tc.rx); got != tc.want {
			t.Errorf("FromRealtime(Real%+d) = %d, want %d", tc.rx-r.Real, got, tc.want)
		}
	}
}

// leapingHost is a host clock whose kernel applies every leap of its table
// exactly: its realtime is always true UTC.
type leapingHost struct {
	tbl  *leap.Table
	tai0 leap.TAI
	clk  *ManualClock // its monotonic reading drives the host
}

func (h leapingHost) Now() (Realtime, Monotonic) {
	_, mono := h.clk.Now()
	return Realtime(h.tbl.UnixFromTAI(h.tai0 + leap.TAI(mono))), mono
}

// Property: on a host whose kernel applies every leap (inserted or deleted),
// started anywhere near any leap and checked at any cadence, the served TAI
// runs exactly with the monotonic clock, nothing is re-anchored, and every
// leap crossed is counted once.
func TestSystemPropertyLeapingHost(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tables := []*leap.Table{realTable(t), withEvent(t, date(2030, 1, 1), -1), withEvent(t, date(2029, 7, 1), 1)}
	for run := range 300 {
		tbl := tables[run%len(tables)]
		e := tbl.Events[rng.IntN(len(tbl.Events))]
		tai0 := e.TAI() + leap.TAI(rng.Int64N(int64(4*time.Second))-int64(2*time.Second)) - leap.TAI(rng.Int64N(int64(time.Minute)))
		clk := &ManualClock{}
		host := leapingHost{tbl: tbl, tai0: tai0, clk: clk}
		s := manualSystem(t, host, tbl, nil)
		if got := s.Now().TAI; got != tai0 && got != tai0-leap.TAI(leap.Second) {
			// Started inside an inserted second the anchor may take the
			// first 23:59:59 (POSIX cannot tell); anything else is wrong.
			t.Fatalf("run %d: anchored at %s, want %s", run, tbl.LabelFromTAI(got), tbl.LabelFromTAI(tai0))
		}
		start := s.Now().TAI
		var elapsed int64
		for elapsed < int64(3*time.Minute) {
			d := rng.Int64N(int64(3 * time.Second))
			clk.Advance(time.Duration(d))
			elapsed += d
			s.Check()
			if got := s.Now().TAI - start; got != leap.TAI(elapsed) {
				t.Fatalf("run %d (%s): served TAI moved %d, mono %d", run, e, got, elapsed)
			}
		}
		st := s.Stats()
		crossed := uint64(0)
		if s.Now().TAI >= e.TAI() && start < e.TAI()-leap.TAI(leap.Second) {
			crossed = 1
		}
		if st.Steps != 0 || (crossed == 1 && st.KernelLeaps != 1) || st.KernelLeaps > 1 {
			t.Fatalf("run %d (%s from %s): stats %+v, crossed %d", run, e, tbl.LabelFromTAI(start), st, crossed)
		}
	}
}

func TestTAIFromRealInsideInsertedSecond(t *testing.T) {
	tbl := realTable(t)
	event := date(2017, 1, 1)
	real := Realtime(event.UnixNano() - leap.Second/2) // 23:59:59.5, read twice
	first, second := tbl.TAIFromUnix(leap.UTC(real)), tbl.TAIFromUnix(leap.UTC(real))+leap.TAI(leap.Second)
	if got := taiFromReal(tbl, real, first+3); got != first {
		t.Errorf("hint near the first 23:59:59.5: got %s", tbl.LabelFromTAI(got))
	}
	if got := taiFromReal(tbl, real, second-3); got != second || !tbl.LabelFromTAI(got).Leap {
		t.Errorf("hint near 23:59:60.5: got %s", tbl.LabelFromTAI(got))
	}
	other := Realtime(event.UnixNano() + leap.Second/2)
	if got := taiFromReal(tbl, other, tbl.TAIFromUnix(leap.UTC(other))+leap.TAI(leap.Second)); got != tbl.TAIFromUnix(leap.UTC(other)) {
		t.Errorf("outside the repeated second the hint must not matter: got %s", tbl.LabelFromTAI(got))
	}
}
