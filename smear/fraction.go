package smear

import (
	"math"
	"math/bits"
)

// billion is one second in nanoseconds, the resolution of the fraction.
const billion = 1_000_000_000

// fractionNs returns floor(f(d/l) * 1e9), the part of the leap second applied
// d nanoseconds into a window of l nanoseconds, for 0 <= d <= l < 2^48. It is
// exact for linear and quadratic and within 1 ns for cosine, 0 at d = 0, 1e9 at
// d = l, and never decreases as d grows.
func fractionNs(shape Shape, d, l uint64) uint64 {
	switch shape {
	case Linear:
		// d*1e9 < 2^78 fits 128 bits; the quotient is at most 1e9.
		hi, lo := bits.Mul64(d, billion)
		q, _ := bits.Div64(hi, lo, l)
		return q
	case Quadratic:
		if 2*d < l {
			q, _ := quadraticNs(d, l)
			return q
		}
		// 1 - 2(1-x)^2, so floor(1e9 - g) = 1e9 - ceil(g).
		q, exact := quadraticNs(l-d, l)
		if !exact {
			q++
		}
		return billion - q
	case Cosine:
		// (1 - cos(pi x))/2 = sin^2(pi x / 2), which keeps full precision near
		// x = 0; the second half mirrors the first about x = 1/2 so that it
		// keeps full precision near x = 1. The values are in [0, 1e9], where
		// conversion to a (signed, the cheaper) integer truncates: floor for
		// the first half, and ceil with one more step for the second.
		if 2*d < l {
			return uint64(int64(sinSquaredHalfPi(d, l) * billion))
		}
		g := sinSquaredHalfPi(l-d, l) * billion
		c := int64(g)
		if float64(c) < g {
			c++
		}
		return billion - uint64(c)
	default:
		if d >= l {
			return billion
		}
		return 0
	}
}

// sinSquaredHalfPi returns sin^2(pi/2 * e/l) for e <= l/2; e and l are
// below 2^53 and so exact as float64.
func sinSquaredHalfPi(e, l uint64) float64 {
	s := sinQuarterPi(math.Pi / 2 * (float64(int64(e)) / float64(int64(l))))
	return s * s
}

// sinQuarterPi returns sin(x) for 0 <= x <= pi/4: the Taylor series to the
// x^17 term, whose remainder there is below x^19/19! < 1e-19, far under the
// rounding of float64. The polynomial in x^2 is evaluated by Estrin's scheme,
// in pairs, so that its multiplications do not wait on each other in one long
// chain. It needs none of math.Sin's range reduction and special cases.
func sinQuarterPi(x float64) float64 {
	const (
		f3  = 1.0 / 6
		f5  = 1.0 / 120
		f7  = 1.0 / 5040
		f9  = 1.0 / 362880
		f11 = 1.0 / 39916800
		f13 = 1.0 / 6227020800
		f15 = 1.0 / 1307674368000
		f17 = 1.0 / 355687428096000
	)
	z := x * x
	z2 := z * z
	z4 := z2 * z2
	// p = f3 - f5 z + f7 z^2 - ... - f17 z^7, and sin x = x - x z p.
	p := (f3 - f5*z + (f7-f9*z)*z2) + (f11-f13*z+(f15-f17*z)*z2)*z4
	return x - x*z*p
}

// quadraticNs returns floor(2e9 * e^2 / l^2) and whether the division was
// exact, for e <= l/2 and l < 2^48. floor(floor(n/l)/l) equals floor(n/l^2),
// and n = 2e9*e^2 < 2^125 fits 128 bits.
func quadraticNs(e, l uint64) (uint64, bool) {
	sqHi, sqLo := bits.Mul64(e, e)
	carry, nLo := bits.Mul64(sqLo, 2*billion)
	nHi := sqHi*2*billion + carry
	// n / l: the quotient may exceed 64 bits, so divide in two steps.
	q1Hi, r := nHi/l, nHi%l
	q1Lo, r1 := bits.Div64(r, nLo, l)
	// q1 / l: q1 <= 5e8*l < 2^77, so q1Hi < 2^13 < l and the quotient fits.
	q2, r2 := bits.Div64(q1Hi, q1Lo, l)
	return q2, r1 == 0 && r2 == 0
}

// rateAt returns df/dx at x in [0, 1], the shape's slope relative to a
// linear smear over the same window (1 for linear).
func rateAt(shape Shape, x float64) float64 {
	switch shape {
	case Linear:
		return 1
	case Cosine:
		return math.Pi / 2 * math.Sin(math.Pi*x)
	case Quadratic:
		if x < 0.5 {
			return 4 * x
		}
		return 4 * (1 - x)
	default:
		return 0
	}
}
