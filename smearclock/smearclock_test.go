package smearclock

import (
	"log/slog"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

func mustPolicy(t *testing.T, spec string) smear.Policy {
	t.Helper()
	p, err := smear.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tables returns the real table (the 2016 leap inserted) and one with a
// synthetic deleted second at the end of 2030-06-30.
func tables(t *testing.T) map[string]*leap.Table {
	t.Helper()
	neg, err := leap.Default().WithRehearsal(time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC), -1)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*leap.Table{"inserted 2016": leap.Default(), "deleted 2030": neg}
}

// exactInverse returns, for a linear window, the exact TAI instant (a
// rational number of nanoseconds) at which the smeared clock reads served:
// on the window, served = start + d - s*d/L*1s for d ns into it.
func exactInverse(w smear.Window, served smear.Time) *big.Rat {
	s := int64(w.Event.Delta)
	before := int64(w.Event.Before()) * leap.Second
	l := int64(w.End - w.Start)
	a := int64(served) - (int64(w.Start) - before) // served ns since the window began
	d := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(a), big.NewInt(l)), big.NewInt(l-s*leap.Second))
	return d.Add(d, new(big.Rat).SetInt64(int64(w.Start)))
}

// TestUnsmearNsExactInverse: inside linear windows of both signs UnsmearNs
// is the exact inverse rounded to within 1 ns, and exactly it where that is
// a whole nanosecond; smear.Unsmear alone is 1 ns early there for an
// inserted second. Outside windows it is the plain table conversion.
func TestUnsmearNsExactInverse(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 2016))
	n := 2000
	if testing.Short() {
		n = 500
	}
	for name, tbl := range tables(t) {
		for _, spec := range []string{"noon-to-noon", "google-2016", "slew-500ppm", "linear:-30s:61s"} {
			s, err := smear.New(tbl, mustPolicy(t, spec))
			if err != nil {
				t.Fatal(err)
			}
			ws := s.Windows()
			w := ws[len(ws)-1]
			if name == "inserted 2016" {
				w = ws[26]
			}
			before := int64(w.Event.Before()) * leap.Second
			after := int64(w.Event.TAIUTC) * leap.Second
			startS, endS := smear.Time(int64(w.Start)-before), smear.Time(int64(w.End)-after)
			for range n {
				served := startS + smear.Time(r.Int64N(int64(endS-startS)))
				got := UnsmearNs(s, served)
				want := exactInverse(w, served)
				diff := new(big.Rat).Sub(new(big.Rat).SetInt64(int64(got)), want)
				if diff.Cmp(big.NewRat(-1, 1)) <= 0 || diff.Cmp(big.NewRat(1, 1)) >= 0 {
					t.Fatalf("%s %s: UnsmearNs(%d) = %d, exact %s", name, spec, served, got, want.FloatString(3))
				}
				if want.IsInt() && diff.Sign() != 0 {
					t.Fatalf("%s %s: UnsmearNs(%d) = %d, exact inverse is the whole %s", name, spec, served, got, want.FloatString(0))
				}
				if s.Served(got) != served && w.Event.Delta > 0 {
					t.Fatalf("%s %s: Served(UnsmearNs(%d)) = %d", name, spec, served, s.Served(got))
				}
			}
			// Points whose exact inverse is whole: d*(L - s*1s) a multiple of L.
			l := int64(w.End - w.Start)
			g := new(big.Int).GCD(nil, nil, big.NewInt(l), big.NewInt(l-int64(w.Event.Delta)*leap.Second)).Int64()
			step := (l - int64(w.Event.Delta)*leap.Second) / g
			span := int64(endS - startS)
			for k := int64(0); k*step < span; k += 1 + span/step/1000 {
				served := startS + smear.Time(k*step)
				want := exactInverse(w, served)
				if !want.IsInt() {
					t.Fatalf("%s %s: %d not a whole point", name, spec, served)
				}
				if got := UnsmearNs(s, served); big.NewRat(int64(got), 1).Cmp(want) != 0 {
					t.Fatalf("%s %s: UnsmearNs(%d) = %d, want exactly %s", name, spec, served, got, want.FloatString(0))
				}
			}
			// Outside the windows: the table's conversion.
			for _, served := range []smear.Time{startS - 1, startS - smear.Time(7*3600*leap.Second), endS, endS + 1, endS + smear.Time(86400*leap.Second)} {
				if got, want := UnsmearNs(s, served), tbl.TAIFromUnix(leap.UTC(served)); got != want {
					t.Errorf("%s %s: outside the window UnsmearNs(%d) = %d, want %d", name, spec, served, got, want)
				}
			}
		}
	}
}

// TestUnsmearNsStep: the step policy's repeated second maps to its first
// occurrence and is reported repeated; the seconds around it are not.
func TestUnsmearNsStep(t *testing.T) {
	tbl := leap.Default()
	s, err := smear.New(tbl, mustPolicy(t, "step"))
	if err != nil {
		t.Fatal(err)
	}
	midnight := smear.Time(time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	const second = smear.Time(leap.Second)
	cases := []struct {
		served   smear.Time
		label    string
		repeated bool
	}{
		{midnight - second - 1, "2016-12-31T23:59:58.999999999Z", false},
		{midnight - second, "2016-12-31T23:59:59Z", true},
		{midnight - second/2, "2016-12-31T23:59:59.5Z", true},
		{midnight - 1, "2016-12-31T23:59:59.999999999Z", true},
		{midnight, "2017-01-01T00:00:00Z", false},
	}
	for _, c := range cases {
		if got := tbl.LabelFromTAI(UnsmearNs(s, c.served)).String(); got != c.label {
			t.Errorf("UnsmearNs(%d) = %s, want %s", c.served, got, c.label)
		}
		if got := Repeated(s, c.served); got != c.repeated {
			t.Errorf("Repeated(%s) = %v", c.label, got)
		}
	}
	lin, _ := smear.New(tbl, mustPolicy(t, "noon-to-noon"))
	if Repeated(lin, midnight-second/2) {
		t.Error("a smearing policy repeats nothing")
	}
}

func newManual(t *testing.T, at time.Time, spec string) (*Clock, *timescale.ManualClock) {
	t.Helper()
	host := timescale.NewManualClock(at)
	c, err := New(mustPolicy(t, spec), nil, Options{Clock: host, CheckInterval: -1, Logger: slog.New(slog.DiscardHandler),
		Kernel: func() (timescale.KernelState, error) { return timescale.KernelState{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, host
}

// TestNowThroughLeapAndSteps: Now is the server's Served at the anchored
// instant; the host kernel's own leap does not move it; a host clock stepped
// by something else is followed (re-anchored), and since the monotonic
// reading of a Now value runs with the smeared clock, Sub between two Now
// values includes that step. Every value carries a monotonic reading.
func TestNowThroughLeapAndSteps(t *testing.T) {
	c, host := newManual(t, time.Date(2016, 12, 31, 23, 59, 0, 0, time.UTC), "linear:-30s:61s")
	tbl := c.Smear().Table()
	sys := c.src.(*timescale.System)
	prev := c.Now()
	for i := range 200 {
		host.Advance(500 * time.Millisecond)
		if i == 119 { // 23:59:60: the kernel steps back one second
			host.Step(-time.Second)
		}
		sys.Check()
		now := c.Now()
		if !strings.Contains(now.String(), " m=") {
			t.Fatalf("step %d: Now %s carries no monotonic reading", i, now)
		}
		real, _ := host.Now()
		// During 23:59:60 the host's realtime repeats 23:59:59; elsewhere it
		// is true UTC, and Now must be what a server serves then.
		if i != 119 && i != 120 {
			if want := c.Served(tbl.TAIFromUnix(leap.UTC(real))); now.UnixNano() != want.UnixNano() {
				t.Fatalf("step %d: Now %s, want %s", i, now.UTC().Format(time.RFC3339Nano), want.Time().Format(time.RFC3339Nano))
			}
		}
		if d := now.Sub(prev); d <= 0 || d > 500*time.Millisecond+500*time.Millisecond/61 {
			t.Fatalf("step %d: Now advanced by %v", i, d)
		}
		prev = now
	}
	if st := sys.Stats(); st.Steps != 0 || st.KernelLeaps != 1 {
		t.Fatalf("stats %+v", st)
	}
	if c.Offset() != 0 {
		t.Errorf("offset after the window %d", c.Offset())
	}
	// An operator steps the host clock forward by an hour: the clock
	// follows it.
	host.Advance(time.Second)
	host.Step(time.Hour)
	sys.Check()
	now := c.Now()
	if sys.Stats().Steps != 1 {
		t.Fatal("the step was not followed")
	}
	if d := now.Sub(prev); d != time.Hour+time.Second {
		t.Errorf("moved %v across the step, want 1h0m1s", d)
	}
}

// TestUnsmearOfNow: unsmearing the clock's own reading gives true UTC back,
// through a whole smear.
func TestUnsmearOfNow(t *testing.T) {
	start := time.Date(2016, 12, 31, 11, 0, 0, 0, time.UTC)
	c, host := newManual(t, start, "noon-to-noon")
	tbl := c.Smear().Table()
	x0 := tbl.TAIFromTime(start)
	// The host clock does not leap here: the true instant is the start
	// plus the time elapsed.
	for i := range 26 * 12 {
		want := tbl.LabelFromTAI(x0 + leap.TAI(time.Duration(i)*5*time.Minute))
		got := c.Unsmear(c.Now())
		if d := got.Time.Sub(want.Time); d < -time.Nanosecond || d > time.Nanosecond || got.Leap != want.Leap {
			t.Fatalf("Unsmear(Now()) = %s at true %s", got, want)
		}
		host.Advance(5 * time.Minute)
	}
}

func TestNewErrors(t *testing.T) {
	bad := smear.Policy{Name: "bad", Shape: smear.Linear, Start: time.Hour, Length: time.Hour}
	if _, err := New(bad, nil, Options{CheckInterval: -1}); err == nil {
		t.Error("a window that misses the leap was accepted")
	}
}
