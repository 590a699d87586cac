package report

import (
	"math"
	"time"

	"github.com/leapsmear/leapsmear/watch"
)

// leapAt is the leap the test records are built around.
var leapAt = time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC)

// curve is a server's offset from the watcher's clock at an instant.
type curve func(at time.Time) time.Duration

// shapes of a smear: the fraction of the leap applied, 0 to 1, at x in 0..1.
var (
	linear    = func(x float64) float64 { return x }
	cosine    = func(x float64) float64 { return (1 - math.Cos(math.Pi*x)) / 2 }
	quadratic = func(x float64) float64 {
		if x < 0.5 {
			return 2 * x * x
		}
		return 1 - 2*(1-x)*(1-x)
	}
)

// smearing is a server that applies a leap of the given sign with shape f
// over the window from leapAt+start lasting length: the watcher, whose clock
// does not leap, sees its offset move from 0 to -sign seconds.
func smearing(sign int, f func(float64) float64, start, length time.Duration) curve {
	return func(at time.Time) time.Duration {
		x := min(max(float64(at.Sub(leapAt.Add(start)))/float64(length), 0), 1)
		return -time.Duration(float64(sign) * f(x) * float64(time.Second))
	}
}

// stepping is a server that steps by a leap of the given sign at leapAt.
func stepping(sign int) curve {
	return func(at time.Time) time.Duration {
		if at.Before(leapAt) {
			return 0
		}
		return -time.Duration(sign) * time.Second
	}
}

// plus is c with a constant offset added.
func plus(c curve, d time.Duration) curve {
	return func(at time.Time) time.Duration { return c(at) + d }
}

// record is a watch of servers a, b, c, ... following the curves, polled
// every 250 ms from 40 s before leapAt to 40 s after, each server jitter
// after the previous one in a round, with replies 20 us in flight.
func record(jitter time.Duration, curves ...curve) *watch.Record {
	rec := &watch.Record{Every: 250 * time.Millisecond}
	for i := range curves {
		rec.Servers = append(rec.Servers, string(rune('a'+i)))
		rec.Addrs = append(rec.Addrs, "192.0.2."+string(rune('1'+i))+":123")
	}
	for at := leapAt.Add(-40 * time.Second); !at.After(leapAt.Add(40 * time.Second)); at = at.Add(rec.Every) {
		rd := watch.Round{At: at}
		for i, c := range curves {
			t := at.Add(time.Duration(i) * jitter)
			rd.Samples = append(rd.Samples, watch.Sample{At: t, Offset: c(t), Delay: 20 * time.Microsecond, Stratum: 2, Answered: true})
		}
		rec.Rounds = append(rec.Rounds, rd)
	}
	return rec
}

// rehearsalRecord is a watch of a step, a linear smear and a deleted second
// around leapAt, with server c missing every tenth round.
func rehearsalRecord() *watch.Record {
	rec := record(200*time.Microsecond, stepping(1), smearing(1, linear, -30*time.Second, time.Minute),
		smearing(-1, cosine, -30*time.Second, time.Minute))
	for k := range rec.Rounds {
		rec.Rounds[k].Samples[0].Leap = 1
		if k%10 == 3 {
			rec.Rounds[k].Samples[2] = watch.Sample{Err: errTest}
		}
	}
	return rec
}

type testError struct{}

func (testError) Error() string { return "no answer (test)" }

var errTest error = testError{}
