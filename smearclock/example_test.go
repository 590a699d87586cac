package smearclock_test

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/smearclock"
	"github.com/leapsmear/leapsmear/timescale"
)

// A program smearing the 2016 leap second itself. The host clock here is
// moved by hand (Options.Clock); leave it nil to read the real one.
func ExampleClock_Now() {
	policy, _ := smear.Parse("noon-to-noon")
	host := timescale.NewManualClock(time.Date(2016, 12, 31, 18, 0, 0, 0, time.UTC))
	clock, err := smearclock.New(policy, nil, smearclock.Options{
		Clock: host, CheckInterval: -1, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer clock.Close()
	start := clock.Now()
	fmt.Println(start.UTC().Format(time.RFC3339Nano))
	host.Advance(6 * time.Hour)
	host.Step(-time.Second)                 // the host kernel inserts the leap itself
	host.Advance(6*time.Hour + time.Second) // 12 h and the leap second later
	end := clock.Now()
	fmt.Println(end.UTC().Format(time.RFC3339Nano))
	fmt.Println("elapsed on the smeared clock:", end.Sub(start), "(true: 12h0m1s)")
	// Output:
	// 2016-12-31T17:59:59.750002894Z
	// 2017-01-01T06:00:00.249997107Z
	// elapsed on the smeared clock: 12h0m0.499994213s (true: 12h0m1s)
}

// Correcting a timestamp written by a smeared clock: six hours into
// Google's noon-to-noon smear, on the smeared clock, true UTC is 250 ms
// later (google/unsmear's example); during the leap second, it is 23:59:60.
func ExampleClock_Unsmear() {
	policy, _ := smear.Parse("noon-to-noon")
	clock, err := smearclock.New(policy, nil, smearclock.Options{
		CheckInterval: -1, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer clock.Close()
	for _, stamp := range []string{"2016-12-31T18:00:00Z", "2017-01-01T00:00:00Z", "2017-01-01T06:00:00Z"} {
		t, _ := time.Parse(time.RFC3339, stamp)
		fmt.Println(stamp, "->", clock.Unsmear(t))
	}
	// Output:
	// 2016-12-31T18:00:00Z -> 2016-12-31T18:00:00.25Z
	// 2017-01-01T00:00:00Z -> 2016-12-31T23:59:60.5Z
	// 2017-01-01T06:00:00Z -> 2017-01-01T05:59:59.75Z
}

// UnsmearNs is the exact inverse where smear.Unsmear returns the first
// nanosecond that showed the value: the smeared clock runs slow and read
// 18:00:00.000000000 during two true nanoseconds.
func ExampleUnsmearNs() {
	policy, _ := smear.Parse("noon-to-noon")
	table := leap.Default()
	s, _ := smear.New(table, policy)
	stamp := smear.Time(time.Date(2016, 12, 31, 18, 0, 0, 0, time.UTC).UnixNano())
	fmt.Println(table.LabelFromTAI(s.Unsmear(stamp)))
	fmt.Println(table.LabelFromTAI(smearclock.UnsmearNs(s, stamp)))
	// Output:
	// 2016-12-31T18:00:00.249999999Z
	// 2016-12-31T18:00:00.25Z
}

// Without a smear, 23:59:59 is served twice before an inserted second.
func ExampleRepeated() {
	table := leap.Default()
	s, _ := smear.New(table, smear.Presets()[0]) // step
	for _, at := range []string{"2016-12-31T23:59:58.5Z", "2016-12-31T23:59:59.5Z"} {
		t, _ := time.Parse(time.RFC3339Nano, at)
		stamp := smear.Time(t.UnixNano())
		fmt.Println(at, table.LabelFromTAI(smearclock.UnsmearNs(s, stamp)), smearclock.Repeated(s, stamp))
	}
	// Output:
	// 2016-12-31T23:59:58.5Z 2016-12-31T23:59:58.5Z false
	// 2016-12-31T23:59:59.5Z 2016-12-31T23:59:59.5Z true
}
