// Package crosspkg uses timeutil's helpers: facts carry across packages.
package crosspkg

import (
	"math/rand"
	"time"

	"example.com/leapvettest/timeutil"
)

func use(start int64) {
	t0 := timeutil.Now()
	_ = rand.Int63n(int64(time.Since(t0))) // want `as t0 \(from timeutil.Now\(\), which returns .UTC\(\), timeutil.go:10\) has no monotonic reading`
	_ = make([]byte, timeutil.Millis()-start)
	_ = make([]byte, timeutil.Millis()-timeutil.Millis()) // want `difference of wall-clock readings \(timeutil.Millis\(\), which returns .UnixMilli\(\), timeutil.go:13`
	_ = rand.Int63n(int64(timeutil.Age(start)))           // want `it comes from Age\(\), where time.Since\(t\) is read on the wall clock.*\(in package example.com/leapvettest/timeutil\)`
	_ = timeutil.Jitter(time.Since(t0))                   // want `it is passed to Jitter\(\) as d, where rand.Int63n panics unless its argument is positive \(line \d+\) in package example.com/leapvettest/timeutil`
	_ = rand.Int63n(int64(time.Since(timeutil.Monotonic())))
}
