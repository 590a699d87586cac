package smear

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

// span returns the stretch of TAI over which the served time may differ from
// true UTC for window w: from the earlier of the window start and the leap to
// the later of the window end and the leap (a window that opens at T leaves a
// deleted second's 23:59:59 between the leap, at U = T-1s, and itself).
func span(w Window) (leap.TAI, leap.TAI) {
	return min(w.Start, w.Event.Jump()), max(w.End, w.Event.TAI())
}

// TestProperties checks, for every preset and random custom policies of both
// signs: f(start) = 0 and f(end) = 1 exactly; the served time equals true UTC
// outside the smear; it never decreases from one nanosecond to the next and
// strictly increases across every microsecond; the rate stays within the
// declared maximum; and Unsmear inverts Served to within 1 ns.
func TestProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	policies := randomPolicies(r, 40)
	if testing.Short() {
		policies = policies[:len(presets)+5]
	}
	for _, sign := range []int{1, -1} {
		table := synthetic(sign)
		for _, p := range policies {
			if p.Shape == Step {
				continue // TestStepServesTrueUTCAndAnnounces covers step
			}
			s, err := New(table, p)
			if err != nil {
				t.Fatalf("%s: %v", p.Spec(sign), err)
			}
			name := p.Spec(sign)
			w := s.Windows()[0]
			e := w.Event
			before, after := int64(e.Before())*sec, int64(e.TAIUTC)*sec
			// f(start) = 0, f(end) = 1, exactly.
			if got := int64(w.Start) - int64(s.Served(w.Start)); got != before {
				t.Errorf("%s sign %+d: TAI-served at window start %d, want %d", name, sign, got, before)
			}
			if got := int64(w.End) - int64(s.Served(w.End)); got != after {
				t.Errorf("%s sign %+d: TAI-served at window end %d, want %d", name, sign, got, after)
			}
			if got := int64(w.Start-1) - int64(s.Served(w.Start-1)); got != before {
				t.Errorf("%s sign %+d: smear begun before the window", name, sign)
			}
			lo, hi := span(w)
			// Outside the smear the served time is true UTC.
			for i := 0; i < 200; i++ {
				x := lo - 1 - leap.TAI(r.Int64N(40*86400*sec))
				if i%2 == 1 {
					x = hi + leap.TAI(r.Int64N(40*86400*sec))
				}
				if got, want := s.Served(x), table.UnixFromTAI(x); int64(got) != int64(want) {
					t.Fatalf("%s sign %+d: served %d outside the smear at %d, true UTC %d", name, sign, got, x, want)
				}
			}
			maxRate := p.MaxRatePPM(sign)
			check := func(x leap.TAI, inverse bool) {
				a, b := s.Served(x), s.Served(x+1)
				if b < a {
					t.Fatalf("%s sign %+d: served time decreases at %d: %d then %d", name, sign, x, a, b)
				}
				if c := s.Served(x + 1000); c <= a {
					t.Fatalf("%s sign %+d: served time does not increase across the microsecond after %d", name, sign, x)
				}
				if inverse {
					if u := s.Unsmear(a); u < x-1 || u > x+1 {
						t.Fatalf("%s sign %+d: Unsmear(Served(%d)) = %d", name, sign, x, u)
					}
				}
				const d = 1e9
				if x+d <= w.End {
					slope := math.Abs(float64(s.Served(x+d)-a-d)) - 1 // 1 ns of rounding
					if slope > maxRate*d/1e6 {
						t.Fatalf("%s sign %+d: served clock moved %.0f ns off in 1 s at %d, max rate %.3f ppm", name, sign, slope, x, maxRate)
					}
				}
				if rate := math.Abs(s.RatePPM(x)); rate > maxRate*(1+1e-9) {
					t.Fatalf("%s sign %+d: RatePPM %.6f above the maximum %.6f", name, sign, rate, maxRate)
				}
			}
			length := int64(w.End - w.Start)
			for i := 0; i < 300; i++ {
				check(w.Start-500+leap.TAI(r.Int64N(length+1000)), true)
			}
			// Dense runs where the curve is flattest (the ends), steepest (the
			// middle for cosine and quadratic), and at the leap itself.
			for _, at := range []leap.TAI{w.Start - 2000, w.End - 50000, w.Start + leap.TAI(length/2) - 25000, lo - 100, hi - 25000} {
				for x := at; x < at+50000; x++ {
					check(x, x%61 == 0)
				}
			}
		}
	}
}

// TestCosineWithinOneNanosecond compares the cosine fraction with a 200-bit
// reference, where the curve is flattest and where it is steepest.
func TestCosineWithinOneNanosecond(t *testing.T) {
	const l uint64 = 86400 * uint64(sec)
	r := rand.New(rand.NewPCG(3, 4))
	points := []uint64{0, 1, 2, 1000, l / 2, l/2 - 1, l/2 + 1, l - 1000, l - 1, l}
	for i := 0; i < 2000; i++ {
		points = append(points, r.Uint64N(l+1))
	}
	prev := uint64(0)
	for _, d := range points {
		got := fractionNs(Cosine, d, l)
		want := cosineReference(d, l)
		if diff := new(big.Float).Sub(new(big.Float).SetUint64(got), want); diff.Abs(diff).Cmp(big.NewFloat(1)) > 0 {
			t.Errorf("cosine at %d/%d: %d ns, reference %s", d, l, got, want.Text('f', 3))
		}
	}
	for _, start := range []uint64{0, l/2 - 500000, l - 1000000} {
		prev = fractionNs(Cosine, start, l)
		for d := start + 1; d <= start+1000000 && d <= l; d++ {
			f := fractionNs(Cosine, d, l)
			if f < prev {
				t.Fatalf("cosine fraction decreases at %d: %d then %d", d, prev, f)
			}
			prev = f
		}
	}
}

// cosineReference returns 1e9 * (1 - cos(pi*d/l))/2 to 200 bits, with the
// cosine summed as its Taylor series.
func cosineReference(d, l uint64) *big.Float {
	const prec = 200
	pi, _ := new(big.Float).SetPrec(prec).SetString("3.14159265358979323846264338327950288419716939937510582097494459")
	x := new(big.Float).SetPrec(prec).Mul(pi, new(big.Float).SetPrec(prec).Quo(new(big.Float).SetUint64(d), new(big.Float).SetUint64(l)))
	x2 := new(big.Float).SetPrec(prec).Mul(x, x)
	term := new(big.Float).SetPrec(prec).SetInt64(1)
	cos := new(big.Float).SetPrec(prec).SetInt64(1)
	for k := int64(1); k < 60; k++ {
		term.Mul(term, x2)
		term.Quo(term, new(big.Float).SetInt64((2*k-1)*(2*k)))
		term.Neg(term)
		cos.Add(cos, term)
	}
	one := new(big.Float).SetPrec(prec).SetInt64(1)
	f := new(big.Float).SetPrec(prec).Sub(one, cos)
	return f.Mul(f, new(big.Float).SetInt64(billion/2))
}

// TestQuadraticExact compares the quadratic fraction with exact rational
// arithmetic.
func TestQuadraticExact(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 5000; i++ {
		l := uint64(4*sec) + uint64(r.Int64N(int64(MaxLength+time.Second)-4*sec))
		d := uint64(r.Int64N(int64(l) + 1))
		x := new(big.Rat).SetFrac(new(big.Int).SetUint64(d), new(big.Int).SetUint64(l))
		var f *big.Rat
		if 2*d < l {
			f = new(big.Rat).Mul(x, x)
			f.Mul(f, big.NewRat(2, 1))
		} else {
			y := new(big.Rat).Sub(big.NewRat(1, 1), x)
			f = new(big.Rat).Mul(y, y)
			f.Mul(f, big.NewRat(-2, 1))
			f.Add(f, big.NewRat(1, 1))
		}
		f.Mul(f, big.NewRat(billion, 1))
		want := new(big.Int).Quo(f.Num(), f.Denom()) // floor: f >= 0
		if got := fractionNs(Quadratic, d, l); want.Cmp(new(big.Int).SetUint64(got)) != 0 {
			t.Fatalf("quadratic at %d/%d: %d, exact floor %s", d, l, got, want)
		}
		if got, want := fractionNs(Linear, d, l), new(big.Int).Quo(new(big.Int).Mul(new(big.Int).SetUint64(d), big.NewInt(billion)), new(big.Int).SetUint64(l)); want.Cmp(new(big.Int).SetUint64(got)) != 0 {
			t.Fatalf("linear at %d/%d: %d, exact floor %s", d, l, got, want)
		}
	}
}

// TestWholeTable smears a table of several events of both signs and checks
// that every event is smeared by exactly one second.
func TestWholeTable(t *testing.T) {
	table := &leap.Table{Base: 37, Source: "mixed", Events: []leap.Event{
		{Effective: time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 38, Delta: 1},
		{Effective: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 37, Delta: -1},
		{Effective: time.Date(2031, 4, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 36, Delta: -1},
		{Effective: time.Date(2031, 7, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 37, Delta: 1},
	}}
	for _, p := range Presets() {
		s, err := New(table, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range s.Windows() {
			lo, hi := span(w)
			a, b := lo-leap.TAI(sec), hi+leap.TAI(sec)
			served := int64(s.Served(b) - s.Served(a))
			if elapsed := int64(b - a); elapsed-served != int64(w.Event.Delta)*sec {
				t.Errorf("%s over %s: %d ns served in %d ns, want one second %s", p.Name, w.Event, served, elapsed, map[bool]string{true: "less", false: "more"}[w.Event.Delta > 0])
			}
			if s.Offset(a) != 0 || s.Offset(b) != 0 {
				t.Errorf("%s over %s: offset %d before and %d after, want 0", p.Name, w.Event, s.Offset(a), s.Offset(b))
			}
		}
	}
}

// TestSinQuarterPi holds the served path's sine to math.Sin within 2 units
// in the last place over its whole domain [0, pi/4], and checks that it
// never decreases between neighbouring float64 arguments at both ends.
func TestSinQuarterPi(t *testing.T) {
	const n = 1 << 20
	for i := 0; i <= n; i++ {
		x := math.Pi / 4 * float64(i) / n
		got, want := sinQuarterPi(x), math.Sin(x)
		if ulp := math.Nextafter(want, 2) - want; math.Abs(got-want) > 2*ulp {
			t.Fatalf("sin(%v) = %v, math.Sin %v (%v ulp)", x, got, want, (got-want)/ulp)
		}
	}
	for _, x := range []float64{0, 1e-9, 0.4, math.Pi/4 - 2e-11} {
		prev := sinQuarterPi(x)
		for range 100000 {
			x = math.Nextafter(x, 1)
			if s := sinQuarterPi(x); s < prev {
				t.Fatalf("sin decreases at %v: %v then %v", x, prev, s)
			} else {
				prev = s
			}
		}
	}
}
