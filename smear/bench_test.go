package smear

import (
	"testing"

	"github.com/leapsmear/leapsmear/leap"
)

var sink int64

// benchServed measures Served over a stretch of 1000 s starting at from.
func benchServed(b *testing.B, policy, from string) {
	table := leap2016()
	s := mustSmear(b, table, policy)
	x := mustTAI(b, table, from)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		sink += int64(s.Served(x + leap.TAI(i&1023)*leap.TAI(1e9)))
	}
}

func BenchmarkServedAfterLastLeap(b *testing.B) {
	benchServed(b, "noon-to-noon", "2026-11-23T12:00:00Z")
}
func BenchmarkServedLinear(b *testing.B) { benchServed(b, "noon-to-noon", "2016-12-31T18:00:00Z") }
func BenchmarkServedCosine(b *testing.B) { benchServed(b, "cosine-2008", "2016-12-31T18:00:00Z") }
func BenchmarkServedQuadratic(b *testing.B) {
	benchServed(b, "quadratic-17h", "2017-01-01T06:00:00Z")
}
func BenchmarkServedBeforeLeap(b *testing.B) { benchServed(b, "noon-to-noon", "2016-06-01T00:00:00Z") }

func BenchmarkLIStep(b *testing.B) {
	table := leap2016()
	s := mustSmear(b, table, "step")
	x := mustTAI(b, table, "2016-12-31T18:00:00Z")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sink += int64(s.LI(x + leap.TAI(i&1023)))
	}
}
