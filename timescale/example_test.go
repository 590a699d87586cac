package timescale_test

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/timescale"
)

// table2016 is enough of the leap table for the examples: TAI-UTC 36 s from
// mid-2015, 37 s from 2017.
func table2016() *leap.Table {
	return &leap.Table{Base: 35, Source: "example", Events: []leap.Event{
		{Effective: time.Date(2015, 7, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 36, Delta: 1},
		{Effective: time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 37, Delta: 1},
	}}
}

func synced() (timescale.KernelState, error) {
	return timescale.KernelState{State: timescale.TimeOK}, nil
}

// A host kernel inserting the leap second steps its realtime back by one
// second; the system source's served time runs on.
func ExampleNewSystem() {
	tbl := table2016()
	clk := timescale.NewManualClock(time.Date(2016, 12, 31, 23, 59, 59, 0, time.UTC))
	src, err := timescale.NewSystem(timescale.Config{
		Table: tbl, Clock: clk, Kernel: synced, CheckInterval: -1,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	for i := range 3 {
		r := src.Now()
		fmt.Println(tbl.LabelFromTAI(r.TAI), "host", time.Unix(0, int64(r.Real)).UTC().Format(time.TimeOnly))
		clk.Advance(time.Second)
		if i == 0 {
			clk.Step(-time.Second) // at midnight the kernel inserts its leap
		}
		src.Check()
	}
	st := src.Stats()
	fmt.Println("steps", st.Steps, "kernel leaps", st.KernelLeaps)
	// Output:
	// 2016-12-31T23:59:59Z host 23:59:59
	// 2016-12-31T23:59:60Z host 23:59:59
	// 2017-01-01T00:00:00Z host 00:00:00
	// steps 0 kernel leaps 1
}

// Replaying the 2016 leap: serve time as if it were six hours before it.
func ExampleShiftTo() {
	tbl := table2016()
	clk := timescale.NewManualClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	host, err := timescale.NewSystem(timescale.Config{Table: tbl, Clock: clk, Kernel: synced, CheckInterval: -1})
	if err != nil {
		fmt.Println(err)
		return
	}
	src := timescale.ShiftTo(host, tbl, time.Date(2016, 12, 31, 18, 0, 0, 0, time.UTC))
	defer src.Close()
	fmt.Println(src.Name(), tbl.LabelFromTAI(src.Now().TAI))
	clk.Advance(6 * time.Hour)
	fmt.Println(src.Name(), tbl.LabelFromTAI(src.Now().TAI))
	// Output:
	// shifted(system) 2016-12-31T18:00:00Z
	// shifted(system) 2016-12-31T23:59:60Z
}

// The kernel's receive timestamp of a packet maps to the continuous scale
// through the reading taken when the packet is handled.
func ExampleReading_FromRealtime() {
	r := timescale.Reading{
		TAI:  leap.TAI(time.Date(2020, 1, 1, 0, 0, 37, 0, time.UTC).UnixNano()),
		Real: timescale.Realtime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()),
	}
	rx := r.Real - timescale.Realtime(250*time.Microsecond)
	fmt.Println(time.Duration(r.TAI - r.FromRealtime(rx)))
	// Output:
	// 250µs
}
