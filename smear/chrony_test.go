package smear

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

// chronySmoothing is an independent model of chronyd 4.x's time smoothing
// (smooth.c) in leap-only mode, written from its source: the accumulated
// offset is removed in up to three stages (frequency ramped at a constant
// wander, held at the maximum frequency, ramped back to 0), in float64 like
// chronyd. Times are chronyd's "cooked" clock in nanoseconds.
type chronySmoothing struct {
	maxFreq, maxWander float64 // s/s and s/s^2
	offset, freq       float64 // smooth_offset, smooth_freq at last
	last               int64   // last_update
	stages             [3]struct{ wander, length float64 }
}

// get is get_smoothing: the offset and frequency at now.
func (c *chronySmoothing) get(now int64) (offset, freq float64) {
	elapsed := float64(now-c.last) / 1e9
	offset, freq = c.offset, c.freq
	for _, s := range c.stages {
		if elapsed <= 0 {
			break
		}
		l := min(s.length, elapsed)
		offset -= l * (2*freq + s.wander*l) / 2
		freq += s.wander * l
		elapsed -= l
	}
	if elapsed > 0 {
		offset -= elapsed * freq
	}
	return offset, freq
}

// updateStages is update_stages: the stage lengths that bring the offset and
// the frequency to 0 together.
func (c *chronySmoothing) updateStages() {
	s1 := c.offset / c.maxWander
	s2 := c.freq * c.freq / (2 * c.maxWander * c.maxWander)
	var l1t, l3t, errs [2]float64
	for i, dir := range []float64{-1, 1} {
		s := dir*s1 + s2
		if s < 0 {
			errs[i] += -s
			s = 0
		}
		l3t[i] = math.Sqrt(s)
		l1t[i] = l3t[i] - dir*c.freq/c.maxWander
		if l1t[i] < 0 {
			errs[i] += l1t[i] * l1t[i]
			l1t[i] = 0
		}
	}
	i, dir := 1, 1.0
	if errs[0] < errs[1] {
		i, dir = 0, -1
	}
	l1, l2, l3 := l1t[i], 0.0, l3t[i]
	if f := dir*c.freq + l1*c.maxWander - c.maxFreq; f > 0 {
		lc, f2 := f/c.maxWander, c.maxFreq
		if lc > l1 {
			lc, f2 = l1, dir*c.freq
		}
		l2 = lc * (2 + f/f2)
		l1 -= lc
		l3 -= lc
	}
	c.stages[0].wander, c.stages[0].length = dir*c.maxWander, l1
	c.stages[1].wander, c.stages[1].length = 0, l2
	c.stages[2].wander, c.stages[2].length = -dir*c.maxWander, l3
}

// update is update_smoothing once smoothing is active.
func (c *chronySmoothing) update(now int64, offset, freq float64) {
	c.offset, c.freq = c.get(now)
	c.offset += offset
	c.freq = (c.freq - freq) / (1 - freq)
	c.last = now
	c.updateStages()
}

// handleSlew is smooth.c's parameter-change handler in leap-only mode: an
// adjustment restarts the curve from where it is, and every change moves
// last_update as UTI_AdjustTimespec moves a timestamp (dfreq is 0 here).
func (c *chronySmoothing) handleSlew(cooked int64, doffset float64, adjust bool) {
	if adjust {
		c.update(cooked, 0, 0)
	}
	c.last += int64(math.Round(-doffset * 1e9))
}

// chronydServed returns the time chronyd with 'smoothtime 400 0.001024
// leaponly' and 'leapsecmode slew' serves at the continuous instant u (ns on
// U) around a leap of the given sign at the midnight whose POSIX value is
// midnight (ns), for a host clock that reads U until chronyd corrects it.
// It follows reference.c and local.c: the leap timer fires at 00:00:00 for an
// inserted second and at 23:59:59 for a deleted one; LCL_NotifyLeap calls
// SMT_Leap and then the handlers as if the clock had been stepped by -leap;
// LCL_AccumulateOffset(leap) then calls them as an adjustment of +leap and
// leaves the cooked clock at raw - leap. The server adds the smoothing offset
// at the cooked time to the cooked time (ntp_core.c).
func chronydServed(sign int, midnight int64) func(u int64) int64 {
	c := &chronySmoothing{maxFreq: 400e-6, maxWander: 0.001024e-6, last: midnight - 86400e9}
	fire := midnight
	if sign < 0 {
		fire -= 1e9
	}
	leapSec := float64(sign)
	c.update(fire, leapSec, 0)          // SMT_Leap(cooked, leap)
	c.handleSlew(fire, -leapSec, false) // the step of -leap
	c.handleSlew(fire, leapSec, true)   // LCL_AccumulateOffset(leap)
	return func(u int64) int64 {
		if u < fire {
			return u // nothing to smooth yet
		}
		cooked := u - int64(sign)*1e9
		off, _ := c.get(cooked)
		return cooked + int64(math.Round(off*1e9))
	}
}

// TestQuadraticMatchesChronyd compares quadratic-17h with the model of
// chronyd above for both signs, to 1 ns, over the whole window and the
// seconds around it: chronyd's curve starts at U = T for an inserted second
// and at U = T - 2 s for a deleted one. A window at T for a deleted second
// would differ by up to 64 us.
func TestQuadraticMatchesChronyd(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, sign := range []int{1, -1} {
		table := synthetic(sign)
		e := table.Events[0]
		midnight := e.Unix() * sec
		before := int64(e.Before()) * sec
		chronyd := chronydServed(sign, midnight)
		s := mustSmear(t, table, "quadratic-17h")
		atT := mustSmear(t, table, "quadratic:0s:62500s")
		w := s.Windows()[0]
		if want := leap.TAI(midnight + before - map[int]int64{1: 0, -1: 2 * sec}[sign]); w.Start != want {
			t.Errorf("sign %+d: window starts at %s, want %s", sign, table.LabelFromTAI(w.Start), table.LabelFromTAI(want))
		}
		var us []int64 // on U, ns
		lo, hi := midnight-10*sec, midnight+62510*sec
		for i := 0; i < 20000; i++ {
			us = append(us, lo+r.Int64N(hi-lo))
		}
		for _, at := range []int64{midnight - 2*sec, midnight - sec, midnight, midnight + 31248*sec, midnight + 62498*sec, midnight + 62500*sec} {
			for d := int64(-3000); d <= 3000; d += 7 {
				us = append(us, at+d*1e6)
			}
		}
		worst, worstAtT := int64(0), int64(0)
		for _, u := range us {
			x := leap.TAI(u + before)
			want := chronyd(u)
			diff := int64(s.Served(x)) - want
			if diff < -1 || diff > 1 {
				t.Fatalf("sign %+d at %s: leapsmear serves %d, chronyd %d (%+d ns)", sign, table.LabelFromTAI(x), s.Served(x), want, diff)
			}
			worst = max(worst, abs64(diff))
			worstAtT = max(worstAtT, abs64(int64(atT.Served(x))-want))
		}
		// The model has power: a window at T matches for an inserted second
		// only.
		if sign > 0 && worstAtT > 1 {
			t.Errorf("inserted second: a window at T differs from chronyd by %d ns", worstAtT)
		}
		if sign < 0 && (worstAtT < 63*time.Microsecond.Nanoseconds() || worstAtT > 65*time.Microsecond.Nanoseconds()) {
			t.Errorf("deleted second: a window at T differs from chronyd by %d ns, want about 64 us", worstAtT)
		}
		t.Logf("sign %+d: within %d ns of chronyd over %d instants (a window at T: %d ns)", sign, worst, len(us), worstAtT)
	}
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
