package timescale

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

// The machine's kernel decides which branch runs; both assert.
func TestKernelTAIAgainstThisKernel(t *testing.T) {
	tbl := realTable(t)
	ks, kerr := ReadKernel()
	src, err := NewKernelTAI(Config{Table: tbl, Logger: (&logBuf{}).logger(), CheckInterval: -1})
	switch {
	case kerr != nil:
		if err == nil || !strings.Contains(err.Error(), "reading the kernel's TAI offset") {
			t.Fatalf("adjtimex fails (%v) but NewKernelTAI says %v", kerr, err)
		}
	case ks.TAIOffset != tbl.OffsetAt(time.Now()):
		t.Logf("kernel TAI offset %d: refusal expected", ks.TAIOffset)
		if err == nil {
			src.Close()
			t.Fatal("started although the kernel's TAI offset disagrees with the table")
		}
		for _, want := range []string{fmt.Sprintf("offset is %d s", ks.TAIOffset), "TAI-UTC is 37 s", "leapsectz right/UTC"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	default:
		t.Logf("kernel TAI offset %d matches: start expected", ks.TAIOffset)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if d := int64(src.Now().TAI) - (time.Now().UnixNano() + 37*leap.Second); abs(d) > int64(time.Second) {
			t.Errorf("CLOCK_TAI source is %v off TAI", time.Duration(d))
		}
	}
}

// fakeTAIHost is a host with a kernel TAI offset: CLOCK_TAI = realtime +
// the kernel's offset, as in Linux.
type fakeTAIHost struct {
	clk  *ManualClock
	kern *fakeKernel
}

func (h fakeTAIHost) clockTAI() (leap.TAI, error) {
	real, _ := h.clk.Now()
	k, _ := h.kern.read()
	return leap.TAI(int64(real) + int64(k.TAIOffset)*leap.Second), nil
}

func (h fakeTAIHost) source(t *testing.T, tbl *leap.Table, logs *logBuf) *KernelTAI {
	t.Helper()
	if logs == nil {
		logs = &logBuf{}
	}
	src, err := NewKernelTAI(Config{Table: tbl, Clock: h.clk, Kernel: h.kern.read, ClockTAI: h.clockTAI,
		Logger: logs.logger(), CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

func TestKernelTAIRefusesWrongOffset(t *testing.T) {
	tbl := realTable(t)
	clk := NewManualClock(mustTime(t, "2020-02-03T04:05:06Z"))
	for _, off := range []int{0, 36, 38} {
		h := fakeTAIHost{clk: clk, kern: syncedKernel(off)}
		_, err := NewKernelTAI(Config{Table: tbl, Clock: clk, Kernel: h.kern.read, ClockTAI: h.clockTAI, CheckInterval: -1})
		want := fmt.Sprintf("offset is %d s but leap table test-real says TAI-UTC is 37 s now, so CLOCK_TAI runs %d s behind TAI", off, 37-off)
		if off > 37 {
			want = fmt.Sprintf("offset is %d s but leap table test-real says TAI-UTC is 37 s now, so CLOCK_TAI runs %d s ahead of TAI", off, off-37)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("kernel offset %d: error %v, want %q", off, err, want)
		}
	}
	// The offset is right but CLOCK_TAI does not follow it.
	_, err := NewKernelTAI(Config{Table: tbl, Clock: clk, Kernel: syncedKernel(37).read, CheckInterval: -1,
		ClockTAI: func() (leap.TAI, error) { r, _ := clk.Now(); return leap.TAI(int64(r) + 36*leap.Second), nil }})
	if err == nil || !strings.Contains(err.Error(), "CLOCK_TAI minus CLOCK_REALTIME is 36s") {
		t.Errorf("inconsistent CLOCK_TAI: error %v", err)
	}
	_, err = NewKernelTAI(Config{Table: tbl, Clock: clk, Kernel: func() (KernelState, error) { return KernelState{}, errors.New("EPERM") }})
	if err == nil || !strings.Contains(err.Error(), "EPERM") {
		t.Errorf("unreadable adjtimex: error %v", err)
	}
}

func TestKernelTAIThroughKernelLeap(t *testing.T) {
	tbl := realTable(t)
	event := date(2017, 1, 1)
	h := fakeTAIHost{clk: NewManualClock(event.Add(-time.Minute)), kern: syncedKernel(36)}
	src := h.source(t, tbl, nil)
	if got, want := src.Now().TAI, tbl.TAIFromTime(event.Add(-time.Minute)); got != want {
		t.Fatalf("anchored at %s, want %s", tbl.LabelFromTAI(got), tbl.LabelFromTAI(want))
	}
	prev := src.Now()
	stepped := false
	for i := range 1200 {
		h.clk.Advance(100 * time.Millisecond)
		if real, _ := h.clk.Now(); real == Realtime(event.UnixNano()) && !stepped {
			stepped = true
			// Linux inserts 23:59:60 and raises its TAI offset together.
			h.clk.Step(-time.Second)
			h.kern.set(KernelState{State: TimeOOP, TAIOffset: 37}, nil)
		}
		src.Check()
		r := src.Now()
		if r.TAI-prev.TAI != leap.TAI(100*time.Millisecond) || int64(tbl.UnixFromTAI(r.TAI)) != int64(r.Real) {
			t.Fatalf("tick %d: served %s after %s, host %s", i, tbl.LabelFromTAI(r.TAI), tbl.LabelFromTAI(prev.TAI), fmtNs(r.Real))
		}
		prev = r
	}
	if st := src.Stats(); st.Steps != 0 || st.Offset != 0 || st.Kernel.TAIOffset != 37 {
		t.Fatalf("stats %+v", st)
	}
	// A step of the host clock moves CLOCK_TAI with it: followed.
	h.clk.Step(3700 * time.Millisecond)
	before := src.Now()
	src.Check()
	if st := src.Stats(); st.Steps != 1 || st.LastStep != 3700*time.Millisecond {
		t.Fatalf("after a 3.7s step: %+v", st)
	}
	if got := src.Now().TAI - before.TAI; got != leap.TAI(3700*time.Millisecond) {
		t.Errorf("served time moved %v", time.Duration(got))
	}
}

// A kernel that misses the leap and whose daemon later steps realtime and
// sets the offset: CLOCK_TAI steps back one second for a moment; not followed.
func TestKernelTAIIgnoresLateDaemonCorrection(t *testing.T) {
	tbl := realTable(t)
	event := date(2017, 1, 1)
	h := fakeTAIHost{clk: NewManualClock(event.Add(-time.Minute)), kern: syncedKernel(36)}
	src := h.source(t, tbl, nil)
	tai0 := src.Now().TAI
	h.clk.Advance(10 * time.Minute) // no leap by the kernel: CLOCK_TAI still right
	src.Check()
	h.clk.Step(-time.Second) // the daemon steps realtime...
	h.clk.Advance(time.Second)
	src.Check()
	h.kern.set(KernelState{TAIOffset: 37}, nil) // ...and then fixes the offset
	h.clk.Advance(time.Second)
	src.Check()
	st := src.Stats()
	if st.Steps != 0 || st.KernelLeaps != 1 || st.Offset != 0 {
		t.Fatalf("stats %+v, want no step, one leap seen, offset 0", st)
	}
	if got := src.Now().TAI - tai0; got != leap.TAI(10*time.Minute+2*time.Second) {
		t.Errorf("served time moved %v", time.Duration(got))
	}
}

// When the kernel's TAI offset is changed to a wrong value, CLOCK_TAI is no
// longer trusted: the source keeps serving through the anchor and checks the
// realtime instead.
func TestKernelTAIDistrustsWrongOffset(t *testing.T) {
	tbl := realTable(t)
	h := fakeTAIHost{clk: NewManualClock(mustTime(t, "2020-02-03T04:05:06Z")), kern: syncedKernel(37)}
	logs := &logBuf{}
	src := h.source(t, tbl, logs)
	tai0 := src.Now().TAI
	h.kern.set(KernelState{TAIOffset: 0}, nil)
	for range 4 {
		h.clk.Advance(time.Second)
		src.Check()
	}
	if st := src.Stats(); st.Steps != 0 {
		t.Fatalf("followed CLOCK_TAI with a wrong offset: %+v", st)
	}
	if got := src.Now().TAI - tai0; got != leap.TAI(4*time.Second) {
		t.Errorf("served time moved %v", time.Duration(got))
	}
	if !strings.Contains(logs.String(), "does not match the leap table") {
		t.Errorf("mismatch not logged:\n%s", logs)
	}
	// A realtime step is still followed, mapped through the table.
	h.clk.Step(-5 * time.Second)
	src.Check()
	if st := src.Stats(); st.Steps != 1 || st.LastStep != -5*time.Second {
		t.Fatalf("after a -5s step: %+v", st)
	}
	if r := src.Now(); r.TAI != tbl.TAIFromUnix(leap.UTC(r.Real)) {
		t.Errorf("not re-anchored on the realtime")
	}
}

// When CLOCK_TAI cannot be read the host realtime is checked instead.
func TestKernelTAIUnreadable(t *testing.T) {
	tbl := realTable(t)
	clk := NewManualClock(mustTime(t, "2020-02-03T04:05:06Z"))
	h := fakeTAIHost{clk: clk, kern: syncedKernel(37)}
	var broken atomic.Bool
	logs := &logBuf{}
	src, err := NewKernelTAI(Config{Table: tbl, Clock: clk, Kernel: h.kern.read, Logger: logs.logger(), CheckInterval: -1,
		ClockTAI: func() (leap.TAI, error) {
			if broken.Load() {
				return 0, errors.New("EINVAL")
			}
			return h.clockTAI()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	broken.Store(true)
	clk.Advance(time.Second)
	src.Check()
	if st := src.Stats(); st.Steps != 0 || st.Offset != 0 || !strings.Contains(logs.String(), "cannot read CLOCK_TAI") {
		t.Fatalf("stats %+v, logs:\n%s", st, logs)
	}
	clk.Step(2 * time.Second)
	src.Check()
	if st := src.Stats(); st.Steps != 1 || st.LastStep != 2*time.Second {
		t.Fatalf("realtime step not followed: %+v", st)
	}
	broken.Store(false)
	clk.Advance(time.Second)
	src.Check()
	if st := src.Stats(); st.Steps != 1 || st.KernelLeaps != 0 || st.Offset != 0 {
		t.Fatalf("back on CLOCK_TAI: %+v", st)
	}
}
