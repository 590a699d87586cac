package watch

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
)

// leapAt is the leap of the synthetic tables: the midnight that ends
// 2030-06-30.
var leapAt = time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC)

// table returns a table whose only event is a leap of the given sign at
// leapAt, with TAI-UTC 37 s before it.
func table(sign int) *leap.Table {
	return &leap.Table{Base: 37, Source: "synthetic", Events: []leap.Event{
		{Effective: leapAt, TAIUTC: 37 + sign, Delta: sign},
	}}
}

// mustSmear returns the smear of policy over table(sign).
func mustSmear(t testing.TB, policy string, sign int) *smear.Smear {
	t.Helper()
	return ntptest.Smear(t, table(sign), policy)
}

// watcher is what a watcher sees of a server serving s: its clock does not
// leap, so it reads the continuous scale U (TAI - 37 s), and the offset of
// the server from it is the served time minus U, exactly as package smear
// computes it.
type watcher struct {
	every   time.Duration // poll interval
	phase   time.Duration // of the first poll after from
	noise   time.Duration // standard deviation of gaussian noise
	outlier float64       // probability of an outlier of +-50 ms
	rng     *rand.Rand
}

func (w watcher) watch(s *smear.Smear, from, to time.Time) []Point {
	var pts []Point
	for at := from.Add(w.phase); !at.After(to); at = at.Add(w.every) {
		x := leap.TAI(at.UnixNano() + 37*leap.Second)
		off := s.Served(x).Time().Sub(at)
		if w.noise > 0 {
			off += time.Duration(w.rng.NormFloat64() * float64(w.noise))
		}
		if w.outlier > 0 && w.rng.Float64() < w.outlier {
			off += time.Duration((w.rng.Float64()*2 - 1) * float64(50*time.Millisecond))
		}
		pts = append(pts, Point{At: at, Offset: off})
	}
	return pts
}

// window returns the window of the only event on the watcher's clock.
func window(s *smear.Smear) (start, end time.Time) {
	w := s.Windows()[0]
	return time.Unix(0, int64(w.Start)-37*leap.Second).UTC(), time.Unix(0, int64(w.End)-37*leap.Second).UTC()
}

// exactMaxOffset is the offset from true UTC of largest magnitude, sampled
// like pts.
func exactMaxOffset(s *smear.Smear, pts []Point) time.Duration {
	var m time.Duration
	for _, p := range pts {
		if o := s.Offset(leap.TAI(p.At.UnixNano() + 37*leap.Second)); max(o, -o) > max(m, -m) {
			m = o
		}
	}
	return m
}

func within(got, want, tol time.Duration) bool { return abs(got-want) <= tol }

// TestFractionMatchesSmear: the float shapes the fit uses are the exact
// curves of package smear.
func TestFractionMatchesSmear(t *testing.T) {
	for _, shape := range fitShapes {
		const length = 1000 * time.Second
		s := mustSmear(t, fmt.Sprintf("%s:0s:%v", shape, length), 1)
		for d := time.Duration(0); d <= length; d += 1700 * time.Millisecond {
			at := leapAt.Add(d)
			x := leap.TAI(at.UnixNano() + 37*leap.Second)
			exact := at.Sub(s.Served(x).Time()).Seconds()
			if got := fraction(shape, d.Seconds()/length.Seconds()); math.Abs(got-exact) > 2e-9 {
				t.Fatalf("%s at %v: fraction %.12f, smear %.12f", shape, d, got, exact)
			}
		}
	}
}

// TestPresets: every preset, both signs, polled every minute over its whole
// window with a little noise, with and without the leap instant known.
func TestPresets(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range smear.Presets() {
		for _, sign := range []int{1, -1} {
			for _, known := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%+d/leap-known=%v", p.Name, sign, known), func(t *testing.T) {
					s := mustSmear(t, p.Name, sign)
					start, end := window(s)
					every := max(time.Minute, p.WindowLength(sign)/1000)
					if p.Shape == smear.Step {
						every = time.Minute
					}
					w := watcher{every: every, phase: time.Duration(rng.Int64N(int64(every))), noise: 100 * time.Microsecond, rng: rng}
					pts := w.watch(s, start.Add(-2*time.Hour), end.Add(2*time.Hour))
					opt := Options{}
					if known {
						opt.Leap = leapAt
					}
					r := Classify(pts, opt)
					wantClass := ClassSmear
					if p.Shape == smear.Step {
						wantClass = ClassStep
					}
					if r.Class != wantClass || r.Shape != p.Shape.String() || r.Preset != p.Name || r.Policy != p.Name || !r.Complete {
						t.Fatalf("got %+v, want %s %s preset %s", r, wantClass, p.Shape, p.Name)
					}
					if !within(r.TotalOffset, time.Duration(sign)*time.Second, 3*time.Millisecond) {
						t.Errorf("total offset %v, want %+d s", r.TotalOffset, sign)
					}
					// An offset error of e puts an edge off by about e/rate:
					// e*L for a linear window of length L.
					tol := every/5 + 3*w.noise*time.Duration(p.WindowLength(sign)/time.Second)
					if p.Shape == smear.Step {
						// The jump lies between the two points around it.
						if r.Start.After(start) || !r.End.After(start) || r.End.Sub(r.Start) > every {
							t.Errorf("step between %v and %v, but it was at %v", r.Start, r.End, start)
						}
						if !within(r.MaxOffset, 0, 5*w.noise) {
							t.Errorf("a step serves UTC: max offset %v", r.MaxOffset)
						}
						return
					}
					if !within(r.Start.Sub(start), 0, tol) || !within(r.End.Sub(end), 0, tol) {
						t.Errorf("window %v..%v, want %v..%v (within %v)", r.Start, r.End, start, end, tol)
					}
					if want := p.MaxRatePPM(sign); math.Abs(r.MaxRatePPM-want) > 0.03*want {
						t.Errorf("max rate %.3f ppm, want %.3f", r.MaxRatePPM, want)
					}
					if !r.Leap.Equal(leapAt) && !within(r.Leap.Sub(leapAt), 0, tol) {
						t.Errorf("leap %v, want %v", r.Leap, leapAt)
					}
					// Where UTC jumps, -0.5 s and +0.5 s are as large: compare sizes.
					// With the leap instant inferred from the preset's window,
					// a point next to the leap may fall on the wrong side: up
					// to a poll interval's worth of change.
					offTol := time.Millisecond
					if !known {
						offTol += time.Duration(p.MaxRatePPM(sign) * float64(every) / 1e6)
					}
					if want := exactMaxOffset(s, pts); !within(abs(r.MaxOffset), abs(want), offTol) {
						t.Errorf("max offset %v, want %v", r.MaxOffset, want)
					}
				})
			}
		}
	}
}

// TestCustomWindows: short custom windows as a rehearsal uses them, polled
// every 250 ms with 20 us of noise, are named exactly relative to the leap.
func TestCustomWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, spec := range []string{"linear:-20s:40s", "quadratic:0s:40s", "cosine:-40s:40s", "linear:-1m0s:2m0s",
		"quadratic:-5s:10s", "cosine:-2m0s:5m0s", "linear:0s:1h0m0s", "quadratic:-12h0m0s:24h0m0s"} {
		for _, sign := range []int{1, -1} {
			t.Run(fmt.Sprintf("%s/%+d", spec, sign), func(t *testing.T) {
				s := mustSmear(t, spec, sign)
				start, end := window(s)
				every := max(250*time.Millisecond, end.Sub(start)/500)
				w := watcher{every: every, phase: time.Duration(rng.Int64N(int64(every))), noise: 20 * time.Microsecond, rng: rng}
				pts := w.watch(s, start.Add(-end.Sub(start)/4-10*time.Second), end.Add(end.Sub(start)/4+10*time.Second))
				r := Classify(pts, Options{Leap: leapAt})
				if r.Class != ClassSmear || r.Policy != spec || r.Preset != "" {
					t.Fatalf("got %s %q (preset %q), want smear %q: %+v", r.Class, r.Policy, r.Preset, spec, r)
				}
				if !within(r.TotalOffset, time.Duration(sign)*time.Second, time.Millisecond) {
					t.Errorf("total offset %v", r.TotalOffset)
				}
				if tol := every / 10; !within(r.Start.Sub(start), 0, tol) || !within(r.End.Sub(end), 0, tol) {
					t.Errorf("window %v..%v, want %v..%v (within %v)", r.Start, r.End, start, end, tol)
				}
				// The slope over a 32nd of the window (at least 2.5 polls)
				// blunts a quadratic's peak by up to half that span.
				if want := s.Policy().MaxRatePPM(sign); math.Abs(r.MaxRatePPM-want) > 0.05*want {
					t.Errorf("max rate %.1f ppm, want %.1f", r.MaxRatePPM, want)
				}
				if r.Residual > 1e-3 {
					t.Errorf("residual %g", r.Residual)
				}
				// Without the leap instant, the shape and window are still found.
				r2 := Classify(pts, Options{})
				if r2.Class != ClassSmear || r2.Shape != r.Shape || r2.Policy != "" || !r2.Start.Equal(r.Start) || !r2.Leap.IsZero() {
					t.Errorf("leap unknown: %+v", r2)
				}
			})
		}
	}
}

// TestStepOrShortSmear: at one poll a second, a step is a step wherever the
// polls fall, and a smear over two seconds (the shortest one second can be
// smeared over) is never taken for one.
func TestStepOrShortSmear(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, spec := range []string{"step", "linear:-1s:2s", "linear:-2s:2s", "linear:0s:2s", "cosine:-2s:4s", "quadratic:-2s:4s"} {
		for _, sign := range []int{1, -1} {
			s := mustSmear(t, spec, sign)
			for phase := time.Duration(0); phase < time.Second; phase += 37 * time.Millisecond {
				w := watcher{every: time.Second, phase: phase, noise: 50 * time.Microsecond, rng: rng}
				pts := w.watch(s, leapAt.Add(-time.Minute), leapAt.Add(time.Minute))
				r := Classify(pts, Options{Leap: leapAt})
				want := ClassSmear
				if spec == "step" {
					want = ClassStep
				}
				if r.Class != want || !within(r.TotalOffset, time.Duration(sign)*time.Second, time.Millisecond) {
					t.Fatalf("%s %+d, polls at %v past the second: %s %v, want %s", spec, sign, phase, r.Class, r.TotalOffset, want)
				}
				// Two or three points in the window cannot tell a shape;
				// four or five may, and then rightly.
				if want == ClassSmear && r.Shape != "" && (s.Policy().Length <= 2*time.Second || r.Shape != s.Policy().Shape.String()) {
					t.Errorf("%s %+d, polls at %v: shape %q", spec, sign, phase, r.Shape)
				}
			}
		}
	}
}

// TestNoise: shapes and windows survive a millisecond of noise and 3% of
// replies off by up to 50 ms; a server that does not leap is none whatever
// its constant offset.
func TestNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, spec := range []string{"linear:-30s:1m", "cosine:-1m:1m", "quadratic:0s:1m", "step"} {
		for _, sign := range []int{1, -1} {
			s := mustSmear(t, spec, sign)
			start, end := window(s)
			w := watcher{every: 250 * time.Millisecond, phase: 100 * time.Millisecond, noise: time.Millisecond, outlier: 0.03, rng: rng}
			pts := w.watch(s, start.Add(-30*time.Second), end.Add(30*time.Second))
			r := Classify(pts, Options{Leap: leapAt})
			wantShape := s.Policy().Shape.String()
			if r.Shape != wantShape || !within(r.TotalOffset, time.Duration(sign)*time.Second, 3*time.Millisecond) {
				t.Errorf("%s %+d: %s %q %v, want %s", spec, sign, r.Class, r.Shape, r.TotalOffset, wantShape)
			}
			if spec != "step" && (!within(r.Start.Sub(start), 0, 300*time.Millisecond) || !within(r.End.Sub(end), 0, 300*time.Millisecond)) {
				t.Errorf("%s %+d: window %v..%v, want %v..%v", spec, sign, r.Start, r.End, start, end)
			}
		}
	}
	for _, offset := range []time.Duration{0, 300 * time.Millisecond, -2 * time.Second} {
		pts := make([]Point, 400)
		for i := range pts {
			noise := time.Duration(rng.NormFloat64() * float64(time.Millisecond))
			if rng.Float64() < 0.03 {
				noise += 40 * time.Millisecond
			}
			pts[i] = Point{At: leapAt.Add(time.Duration(i) * 250 * time.Millisecond), Offset: offset + noise}
		}
		r := Classify(pts, Options{})
		if r.Class != ClassNone || !within(r.TotalOffset, 0, 3*time.Millisecond) || r.MaxRatePPM > 100 {
			t.Errorf("constant offset %v: %+v, want none", offset, r)
		}
	}
}

// TestIncomplete: a watch that ends (or starts) during the smear says so and
// names no shape.
func TestIncomplete(t *testing.T) {
	s := mustSmear(t, "linear:-30s:1m", 1)
	start, end := window(s)
	w := watcher{every: 250 * time.Millisecond}
	for _, span := range [][2]time.Time{{start.Add(-10 * time.Second), start.Add(40 * time.Second)}, {start.Add(20 * time.Second), end.Add(10 * time.Second)}} {
		r := Classify(w.watch(s, span[0], span[1]), Options{})
		if r.Class != ClassSmear || r.Complete || r.Shape != "" || r.Policy != "" {
			t.Errorf("watch %v..%v: %+v", span[0], span[1], r)
		}
	}
}

func TestTooFewPoints(t *testing.T) {
	for n := range MinPoints {
		pts := make([]Point, n)
		if r := Classify(pts, Options{}); r.Class != ClassUnknown || r.Points != n {
			t.Errorf("%d points: %+v", n, r)
		}
	}
}

// TestPropertyRandomWindows: random custom windows and signs, polled at
// random rates giving 40 to 400 points in the window, with noise well below
// the change: the shape, the sign and the window are always found.
func TestPropertyRandomWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	n := 150
	if testing.Short() {
		n = 30
	}
	for i := range n {
		shape := fitShapes[rng.IntN(len(fitShapes))]
		length := time.Duration(10+rng.IntN(7190)) * time.Second
		startRel := -time.Duration(rng.Int64N(int64(length)/int64(time.Second)+1)) * time.Second
		sign := 1 - 2*rng.IntN(2)
		spec := fmt.Sprintf("%s:%v:%v", shape, startRel, length)
		s := mustSmear(t, spec, sign)
		start, end := window(s)
		every := length / time.Duration(40+rng.IntN(360))
		w := watcher{every: every, phase: time.Duration(rng.Int64N(int64(every))), noise: time.Duration(rng.IntN(500)) * time.Microsecond, rng: rng}
		pts := w.watch(s, start.Add(-length/3-2*every), end.Add(length/3+2*every))
		r := Classify(pts, Options{Leap: leapAt})
		// An offset error e moves an edge by about e/rate; the soft edges
		// of the quadratic and cosine shapes are found less well.
		tol := every/3 + 4*w.noise*time.Duration(length/time.Second)
		if r.Class != ClassSmear || r.Shape != shape.String() || !within(r.TotalOffset, time.Duration(sign)*time.Second, 2*time.Millisecond) ||
			!within(r.Start.Sub(start), 0, tol) || !within(r.End.Sub(end), 0, tol) {
			t.Fatalf("case %d: %s sign %+d every %v noise %v: got %s %q %v window %v..%v, want %v..%v (tol %v)",
				i, spec, sign, every, w.noise, r.Class, r.Shape, r.TotalOffset, r.Start, r.End, start, end, tol)
		}
	}
}

// TestStepWithOutliersAtTheJump: replies delayed on one path right next to
// the jump (pulled 45 ms towards the other level) leave a step a step.
func TestStepWithOutliersAtTheJump(t *testing.T) {
	for _, sign := range []int{1, -1} {
		for at := -2; at <= 2; at++ {
			s := mustSmear(t, "step", sign)
			pts := watcher{every: 250 * time.Millisecond, phase: 10 * time.Millisecond}.watch(s, leapAt.Add(-10*time.Second), leapAt.Add(10*time.Second))
			k := 40 + at // points 39 and 40 are either side of the jump
			pull := -time.Duration(sign) * 45 * time.Millisecond
			if k >= 40 {
				pull = -pull
			}
			pts[k].Offset += pull
			pts[k+2].Offset += pull
			r := Classify(pts, Options{Leap: leapAt})
			if r.Class != ClassStep || !within(r.TotalOffset, time.Duration(sign)*time.Second, time.Millisecond) {
				t.Errorf("sign %+d, outliers at %d: %+v", sign, k, r)
			}
		}
	}
}
