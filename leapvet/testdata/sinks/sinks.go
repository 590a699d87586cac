// Package sinks has one case for each sink of a duration.
package sinks

import (
	"math/rand"
	randv2 "math/rand/v2"
	"time"
)

func mathRand(r *rand.Rand, sec int64) {
	d := time.Since(time.Unix(sec, 0))
	_ = rand.Int63n(int64(d)) // want `rand.Int63n panics unless its argument is positive`
	_ = rand.Intn(int(d))     // want `rand.Intn panics unless its argument is positive`
	_ = rand.Int31n(int32(d)) // want `rand.Int31n panics unless its argument is positive`
	_ = r.Int63n(int64(d))    // want `rand.Int63n panics`
	_ = r.Intn(int(d))        // want `rand.Intn panics`
	_ = r.Int31n(int32(d))    // want `rand.Int31n panics`
}

func mathRandV2(r *randv2.Rand, sec int64) {
	d := time.Since(time.Unix(sec, 0))
	_ = randv2.IntN(int(d))       // want `rand.IntN panics unless its argument is positive`
	_ = randv2.Int64N(int64(d))   // want `rand.Int64N panics`
	_ = randv2.Int32N(int32(d))   // want `rand.Int32N panics`
	_ = randv2.Uint64N(uint64(d)) // want `rand.Uint64N panics unless its argument is positive \(and converting a negative value to an unsigned one wraps it around\)`
	_ = randv2.N(d)               // want `rand.N panics`
	_ = r.IntN(int(d))            // want `rand.IntN panics`
	_ = r.Int64N(int64(d))        // want `rand.Int64N panics`
	_ = r.Int32N(int32(d))        // want `rand.Int32N panics`
	_ = r.Uint64N(uint64(d))      // want `rand.Uint64N panics`
}

func tickers(sec int64) {
	d := time.Until(time.Unix(sec, 0))
	t := time.NewTicker(d) // want `time.NewTicker panics unless its duration is positive`
	t.Reset(d)             // want `Ticker.Reset panics unless its duration is positive`
}

func makes(sec int64) {
	n := int(time.Since(time.Unix(sec, 0)) / time.Second)
	_ = make([]byte, n)       // want `make panics on a negative size`
	_ = make([]byte, 0, n)    // want `make panics on a negative size`
	_ = make(chan int, n)     // want `make panics on a negative size`
	_ = make(map[int]bool, n) // want `make panics on a negative size`
}

func indexes(buckets []int, arr [60]int, s string, p *[60]int, sec int64) {
	i := int(time.Since(time.Unix(sec, 0)) / time.Minute)
	buckets[i]++       // want `a negative index panics`
	_ = arr[i]         // want `a negative index panics`
	_ = s[i]           // want `a negative index panics`
	_ = p[i]           // want `a negative index panics`
	_ = buckets[i:]    // want `a negative slice bound panics`
	_ = buckets[:i]    // want `a negative slice bound panics`
	_ = buckets[0:1:i] // want `a negative slice bound panics`
}

func unsigned(sec int64) {
	d := time.Since(time.Unix(sec, 0))
	_ = uint64(d)           // want `converting a negative value to uint64 wraps it around`
	_ = uint32(d.Seconds()) // want `converting a negative value to uint32 wraps it around`
	_ = uint(d)             // want `converting a negative value to uint wraps it around`
}

func divisions(total int64, sec int64) {
	elapsed := time.Now().Unix() - sec
	_ = total / time.Now().Unix() // not a difference
	start := time.Unix(sec, 0).Unix()
	elapsed = time.Now().Unix() - start
	_ = total / elapsed // want `an integer division by zero panics`
	_ = total % elapsed // want `an integer division by zero panics`
	rate := total
	rate /= elapsed // want `an integer division by zero panics`
	_ = rate
}
