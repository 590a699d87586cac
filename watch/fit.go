package watch

import (
	"math"
	"time"

	"github.com/leapsmear/leapsmear/smear"
)

// fitShapes are the smear shapes a window is fitted with.
var fitShapes = []smear.Shape{smear.Linear, smear.Cosine, smear.Quadratic}

// fraction is the shape's f(x) for x in [0, 1], clamped outside: the
// fraction of the leap applied, as package smear defines it (there in exact
// integers; a fit only needs floats).
func fraction(s smear.Shape, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	switch s {
	case smear.Linear:
		return x
	case smear.Cosine:
		return (1 - math.Cos(math.Pi*x)) / 2
	case smear.Quadratic:
		if x < 0.5 {
			return 2 * x * x
		}
		return 1 - 2*(1-x)*(1-x)
	}
	return 0
}

// spread1090 is, for each shape, the part of the window between the instants
// f reaches 10% and 90%: the first guess of the window length.
func spread1090(s smear.Shape) float64 {
	switch s {
	case smear.Cosine:
		return 1 - 2*math.Acos(0.8)/math.Pi
	case smear.Quadratic:
		return 1 - 2*math.Sqrt(0.05)
	}
	return 0.8
}

// windowFit is the best window found.
type windowFit struct {
	shape      smear.Shape
	start, end time.Time
	residual   float64
}

// maxFitPoints bounds the points used by a fit.
const maxFitPoints = 4000

// fitWindow fits each shape's window to the cleaned offsets y, normalised to
// g = (y - initial)/change, around the change between points a and b, and
// returns the best. The window's centre and length are found by a pattern
// search from the 10%, 50% and 90% crossings, minimising the sum of squared
// differences between g and f((t - start)/length).
func fitWindow(pts []Point, y []time.Duration, initial, change time.Duration, a, b int, interval time.Duration) windowFit {
	t0 := pts[a].At
	sec := func(i int) float64 { return pts[i].At.Sub(t0).Seconds() }
	g := func(i int) float64 { return float64(y[i]-initial) / float64(change) }

	// The points: the change and as long again on each side, so that the
	// flat levels pin the window's ends.
	width := pts[b].At.Sub(pts[a].At) + 2*interval
	lo, hi := a, b
	for lo > 0 && pts[a].At.Sub(pts[lo-1].At) <= width {
		lo--
	}
	for hi < len(pts)-1 && pts[hi+1].At.Sub(pts[b].At) <= width {
		hi++
	}
	step := max(1, (hi-lo+1)/maxFitPoints)
	var ts, gs []float64
	for i := lo; i <= hi; i += step {
		ts, gs = append(ts, sec(i)), append(gs, g(i))
	}

	crossing := func(level float64) float64 {
		for i := a + 1; i <= b; i++ {
			if g(i) >= level {
				g0, g1 := g(i-1), g(i)
				if g1 == g0 {
					return sec(i)
				}
				return sec(i-1) + (sec(i)-sec(i-1))*(level-g0)/(g1-g0)
			}
		}
		return sec(b)
	}
	t10, t50, t90 := crossing(0.1), crossing(0.5), crossing(0.9)

	best := windowFit{residual: math.Inf(1)}
	minLen := 1e-3
	for _, s := range fitShapes {
		sse := func(c, l float64) float64 {
			var sum float64
			for i, t := range ts {
				d := gs[i] - fraction(s, (t-(c-l/2))/l)
				sum += d * d
			}
			return sum
		}
		c, l := t50, max((t90-t10)/spread1090(s), minLen)
		cur := sse(c, l)
		sc, sl := l/4, l/4
		tol := max(l*1e-7, 1e-7)
		moves := [][2]float64{{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}, {-1, -1}, {1, -1}, {-1, 1}}
		for iter := 0; iter < 2000 && (sc > tol || sl > tol); iter++ {
			improved := false
			for _, mv := range moves {
				nc, nl := c+mv[0]*sc, l+mv[1]*sl
				if nl < minLen {
					continue
				}
				if v := sse(nc, nl); v < cur {
					c, l, cur, improved = nc, nl, v, true
					break
				}
			}
			if !improved {
				sc, sl = sc/2, sl/2
			}
		}
		if rms := math.Sqrt(cur / float64(len(ts))); rms < best.residual {
			start := t0.Add(time.Duration(math.Round((c - l/2) * 1e9)))
			best = windowFit{shape: s, start: start, end: start.Add(time.Duration(math.Round(l * 1e9))), residual: rms}
		}
	}
	return best
}
