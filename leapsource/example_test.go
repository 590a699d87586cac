package leapsource_test

import (
	"context"
	"fmt"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapcheck"
	"github.com/leapsmear/leapsmear/leapsource"
	"github.com/leapsmear/leapsmear/timescale"
)

// The host kernel armed for a leap second at the end of a day that the
// built-in table, unexpired, rules out: the kernel is a faulty source. (The
// adjtimex reader is injected here; without one, NewKernel reads the real
// kernel, read-only.)
func ExampleCheck() {
	armed := func() (timescale.KernelState, error) {
		return timescale.KernelState{State: timescale.TimeIns, Status: timescale.StatusIns}, nil
	}
	at := time.Date(2026, 12, 31, 20, 0, 0, 0, time.UTC)
	sources := []leapsource.Source{leapsource.NewKernel(armed)}
	r := leapsource.Check(context.Background(), leap.Default(), at, sources, 0, leapcheck.Options{})
	fmt.Println(r.Verdict, r.Leap, r.Faulty())
	// Output:
	// faulty-source 2026-12-31 +1 [kernel]
}

// Upstream servers are polled every 15 minutes, and every minute during the
// last day of a month.
func ExampleNextCheck() {
	for _, at := range []string{"2027-06-15T10:00:00Z", "2027-06-29T23:50:00Z", "2027-06-30T10:00:00Z"} {
		t, _ := time.Parse(time.RFC3339, at)
		fmt.Println(at, leapsource.NextCheck(t, leapsource.DefaultInterval, leapsource.DefaultLastDayInterval))
	}
	// Output:
	// 2027-06-15T10:00:00Z 15m0s
	// 2027-06-29T23:50:00Z 10m0s
	// 2027-06-30T10:00:00Z 1m0s
}
