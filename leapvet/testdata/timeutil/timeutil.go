// Package timeutil has helpers whose facts other packages see.
package timeutil

import (
	"math/rand"
	"time"
)

// Now is the current time in UTC, without its monotonic reading.
func Now() time.Time { return time.Now().UTC() }

// Millis is the current Unix time in milliseconds.
func Millis() int64 { return time.Now().UnixMilli() }

// Age is read on the wall clock.
func Age(unix int64) time.Duration {
	t := time.Unix(unix, 0)
	return time.Since(t)
}

// Jitter returns a random duration below d.
func Jitter(d time.Duration) time.Duration { return time.Duration(rand.Int63n(int64(d))) }

// Monotonic is safe.
func Monotonic() time.Time { return time.Now() }
