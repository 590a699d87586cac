package watch

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/leapsmear/leapsmear/smear"
)

// Point is one measured offset of a server's time from the local clock.
type Point struct {
	At     time.Time
	Offset time.Duration
}

// Class is what a server did over a watch.
type Class string

// Classes of Result.
const (
	// ClassNone: the server's offset did not change beyond the noise.
	ClassNone Class = "none"
	// ClassStep: the whole change happened between two consecutive samples.
	ClassStep Class = "step"
	// ClassSmear: the change was spread over several samples.
	ClassSmear Class = "smear"
	// ClassUnknown: too few answers to say (fewer than MinPoints).
	ClassUnknown Class = "unknown"
)

// MinPoints is the fewest answers Classify needs.
const MinPoints = 3

// DefaultNoise is the change below which a server is taken to have done
// nothing, and the tolerance of a step: network noise on the offsets of a
// reasonable path is far below it, a leap second far above.
const DefaultNoise = 10 * time.Millisecond

// Options tune Classify.
type Options struct {
	// Noise is the largest change still taken for noise; 0 means
	// DefaultNoise.
	Noise time.Duration
	// Leap is the instant of the leap on the watcher's clock, when known:
	// the midnight that ends the leap day, or a rehearsal's instant. It names
	// custom windows relative to the leap, checks the position of a preset's
	// window, and gives MaxOffset.
	Leap time.Time
}

// Result says what one server did.
type Result struct {
	Class Class
	// Shape is "step", or the smear's shape ("linear", "cosine",
	// "quadratic"); empty for none, and for a smear when the watch did not
	// see all of it or too few samples fell inside its window to tell.
	Shape string
	// Preset is the name of the preset policy whose shape and window the
	// server matched (smear.Presets), if any.
	Preset string
	// Policy is the preset's name, or the custom spelling SHAPE:START:LENGTH
	// of the fitted window relative to Options.Leap; empty when neither is
	// known.
	Policy string
	// TotalOffset is the leap the server applied as seen by the watcher: the
	// opposite of the change of its offset from the local clock over the
	// watch. +1 s for an inserted second (the server falls one second behind
	// a clock that does not leap), -1 s for a deleted one.
	TotalOffset time.Duration
	// MaxOffset is the offset from true UTC the server reached (served time
	// minus UTC, the sign of smear.Smear.Offset), when the leap instant is
	// known or implied by a preset; Leap tells whether it is set.
	MaxOffset time.Duration
	Leap      time.Time
	// MaxRatePPM is the largest rate at which the offset changed, in parts
	// per million, from a least-squares slope over a span of the samples
	// (1/32 of the window, at least two and a half poll intervals). For a
	// step it is the jump divided by the interval it fell in; for none, the
	// slope over the whole watch (the frequency offset between the server's
	// clock and the watcher's).
	MaxRatePPM float64
	// Start and End bound the change: the fitted window of a smear, the two
	// samples around a step.
	Start, End time.Time
	// Complete is false when the watch began or ended during the change.
	Complete bool
	// Residual is the root mean square distance between the samples and the
	// fitted shape, as a fraction of the change (a smear's fit only).
	Residual float64
	// Points is how many answers were classified.
	Points int
}

// Classify says whether a server stepped, smeared or did nothing over the
// points (in time order), and how: see Result. It is a pure function of the
// points and the options.
//
// The offsets are first cleaned by a running median of five, which removes
// isolated outliers (a reply delayed on one path) and leaves any monotonic
// change (a step or a smear) untouched. The levels before and after are the
// medians of the first and last few points. A change within Options.Noise
// (or a tenth of the change) of the largest jump between two consecutive
// points is a step: a smear over less than about one poll interval cannot be
// told from one. Anything else
// is a smear: its window is fitted, for each shape, by least squares on the
// change normalised to 0..1, and the shape with the smallest residual wins.
func Classify(pts []Point, opt Options) Result {
	r := Result{Class: ClassUnknown, Points: len(pts)}
	if len(pts) < MinPoints {
		return r
	}
	noise := opt.Noise
	if noise <= 0 {
		noise = DefaultNoise
	}
	n := len(pts)
	y := medianFilter(pts, 5)
	m := min(5, max(1, n/8))
	initial, final := medianOf(y[:m]), medianOf(y[n-m:])
	change := final - initial
	r.TotalOffset = -change
	interval := medianInterval(pts)

	if abs(change) < noise {
		r.Class, r.Complete = ClassNone, true
		r.MaxRatePPM = math.Abs(slope(pts, y, 0, n-1, max(1, n/maxFitPoints))) * 1e6
		return r
	}
	sign := int64(1)
	if change < 0 {
		sign = -1
	}
	// The largest jump in the direction of the change.
	k := 0
	for i := 1; i < n-1; i++ {
		if sign*int64(y[i+1]-y[i]) > sign*int64(y[k+1]-y[k]) {
			k = i
		}
	}
	// A step: the jump between two points is the whole change, within the
	// noise or a tenth of the change (a point next to the jump that a reply
	// delayed on one path pulled towards the other level moves the jump;
	// a smear over two poll intervals or more leaves at most three quarters
	// of the change to one interval).
	if jump := y[k+1] - y[k]; abs(change-jump) <= max(noise, abs(change)/10) {
		r.Class, r.Shape, r.Preset, r.Policy = ClassStep, "step", "step", "step"
		r.Start, r.End, r.Complete = pts[k].At, pts[k+1].At, true
		r.MaxRatePPM = math.Abs(float64(jump)) / float64(r.End.Sub(r.Start)) * 1e6
		r.setMaxOffset(pts, y, initial, opt.Leap)
		return r
	}

	r.Class = ClassSmear
	// The first point off the initial level and the last off the final one.
	a, b := 0, n-1
	for a < n && abs(y[a]-initial) <= noise {
		a++
	}
	for b >= 0 && abs(y[b]-final) <= noise {
		b--
	}
	a, b = max(a-1, 0), min(b+1, n-1) // the last point at the initial level, the first at the final one
	r.Start, r.End = pts[a].At, pts[b].At
	r.MaxRatePPM = maxRate(pts, y, a, b, max(interval*5/2, r.End.Sub(r.Start)/32))
	if a == 0 || b == n-1 {
		return r // began or ended during the change
	}
	f := fitWindow(pts, y, initial, change, a, b, interval)
	// The levels are the medians of the first and last m points: they are
	// the levels only if those points lie outside the window.
	before, inside, after := 0, 0, 0
	for _, p := range pts {
		switch {
		case p.At.Before(f.start):
			before++
		case p.At.After(f.end):
			after++
		default:
			inside++
		}
	}
	if before < m || after < m {
		return r
	}
	r.Complete = true
	r.Start, r.End, r.Residual = f.start, f.end, f.residual
	r.MaxRatePPM = maxRate(pts, y, a, b, max(interval*5/2, f.end.Sub(f.start)/32))
	if inside < 5 {
		// Two or three points on a curve fit any shape.
		return r
	}
	r.Shape = f.shape.String()
	leapSign := int(-sign) // +1 inserted: the server falls behind
	r.Leap = opt.Leap
	length := f.end.Sub(f.start)
	tol := max(2*interval, length/50)
	for _, p := range smear.Presets() {
		if p.Shape != f.shape || absDur(length-p.WindowLength(leapSign)) > tol {
			continue
		}
		if !opt.Leap.IsZero() && absDur(f.start.Sub(opt.Leap.Add(p.WindowStart(leapSign)))) > tol {
			continue
		}
		r.Preset, r.Policy = p.Name, p.Name
		if r.Leap.IsZero() {
			r.Leap = f.start.Add(-p.WindowStart(leapSign))
		}
		break
	}
	if r.Policy == "" && !opt.Leap.IsZero() {
		// Round to what the fit can tell: about a two-hundredth of the window.
		unit := 100 * time.Millisecond
		for _, u := range []time.Duration{time.Second, 10 * time.Second, time.Minute, 10 * time.Minute} {
			if u <= length/200 {
				unit = u
			}
		}
		r.Policy = fmt.Sprintf("%s:%v:%v", r.Shape, f.start.Sub(opt.Leap).Round(unit), length.Round(unit))
	}
	r.setMaxOffset(pts, y, initial, r.Leap)
	return r
}

// setMaxOffset finds the largest offset from true UTC, given the leap
// instant: before the leap true UTC is the watcher's clock (which does not
// leap), after it the watcher's clock minus the leap.
func (r *Result) setMaxOffset(pts []Point, y []time.Duration, initial time.Duration, leapAt time.Time) {
	if leapAt.IsZero() {
		return
	}
	r.Leap = leapAt
	// True UTC repeats a second from the leap instant on (an inserted
	// second), or skips one from a second before it (a deleted second:
	// 23:59:59 is never read).
	leapSign, jump := time.Second, leapAt
	if r.TotalOffset < 0 {
		leapSign, jump = -time.Second, leapAt.Add(-time.Second)
	}
	for i, p := range pts {
		off := y[i] - initial
		if !p.At.Before(jump) {
			off += leapSign
		}
		if abs(off) > abs(r.MaxOffset) {
			r.MaxOffset = off
		}
	}
}

// medianFilter returns the running median of the offsets over width points
// (fewer at the ends).
func medianFilter(pts []Point, width int) []time.Duration {
	out := make([]time.Duration, len(pts))
	buf := make([]time.Duration, 0, width)
	h := width / 2
	for i := range pts {
		buf = buf[:0]
		for j := max(0, i-h); j <= min(len(pts)-1, i+h); j++ {
			buf = append(buf, pts[j].Offset)
		}
		out[i] = medianOf(buf)
	}
	return out
}

// medianOf returns the median of the values (the lower middle one for an
// even count); it reorders a copy.
func medianOf(v []time.Duration) time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// medianInterval returns the median time between consecutive points.
func medianInterval(pts []Point) time.Duration {
	d := make([]time.Duration, len(pts)-1)
	for i := range d {
		d[i] = pts[i+1].At.Sub(pts[i].At)
	}
	return medianOf(d)
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func absDur(d time.Duration) time.Duration { return abs(d) }

// maxRate returns the largest absolute least-squares slope of the cleaned
// offsets y, in ppm, over spans of the given width centred on points a..b
// (at most about 2000 centres and 2000 points per span, evenly chosen).
func maxRate(pts []Point, y []time.Duration, a, b int, width time.Duration) float64 {
	if b <= a {
		return 0
	}
	best := 0.0
	cstep := max(1, (b-a)/2000)
	lo, hi := a, a
	for c := a; c <= b; c += cstep {
		from, to := pts[c].At.Add(-width/2), pts[c].At.Add(width/2)
		for lo < len(pts)-1 && pts[lo].At.Before(from) {
			lo++
		}
		for hi < len(pts)-1 && !pts[hi+1].At.After(to) {
			hi++
		}
		if hi-lo < 1 {
			continue
		}
		if s := slope(pts, y, lo, hi, max(1, (hi-lo)/2000)); math.Abs(s) > best {
			best = math.Abs(s)
		}
	}
	return best * 1e6
}

// slope returns the least-squares slope of y against time over points
// lo..hi taking every step-th, as a dimensionless rate (s per s).
func slope(pts []Point, y []time.Duration, lo, hi, step int) float64 {
	t0 := pts[lo].At
	var n, st, sy float64
	for i := lo; i <= hi; i += step {
		n++
		st += pts[i].At.Sub(t0).Seconds()
		sy += y[i].Seconds()
	}
	mt, my := st/n, sy/n
	var sxx, sxy float64
	for i := lo; i <= hi; i += step {
		dt := pts[i].At.Sub(t0).Seconds() - mt
		sxx += dt * dt
		sxy += dt * (y[i].Seconds() - my)
	}
	if sxx == 0 {
		return 0
	}
	return sxy / sxx
}
