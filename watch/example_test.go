package watch_test

import (
	"context"
	"fmt"
	"time"

	"github.com/leapsmear/leapsmear/watch"
)

// A server that smears an inserted second linearly over a minute, seen by a
// watcher polling every half second: its offset from the watcher's clock
// falls from 0 to -1 s.
func ExampleClassify() {
	leapAt := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	var pts []watch.Point
	for at := leapAt.Add(-time.Minute); !at.After(leapAt.Add(time.Minute)); at = at.Add(500 * time.Millisecond) {
		x := min(max(at.Sub(leapAt.Add(-30*time.Second)), 0), time.Minute) // into the window
		pts = append(pts, watch.Point{At: at, Offset: -x / 60})
	}
	r := watch.Classify(pts, watch.Options{Leap: leapAt})
	fmt.Println(r.Class, r.Shape, r.Policy, r.TotalOffset)
	fmt.Printf("%s to %s, %.0f ppm\n", r.Start.Format("15:04:05"), r.End.Format("15:04:05"), r.MaxRatePPM)
	// Output:
	// smear linear linear:-30s:1m0s 1s
	// 14:59:30 to 15:00:30, 16667 ppm
}

// Watch two servers for ten minutes and say what each did; package
// watch/report prints the summary as 'leapsmear watch' does.
func ExampleWatch() {
	rec, err := watch.Watch(context.Background(), watch.Config{
		Servers: []string{"10.0.0.1", "10.0.0.2"},
		For:     10 * time.Minute,
		Every:   250 * time.Millisecond,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	sum := watch.Summarize(rec, watch.Options{}, watch.SpreadOptions{})
	for _, s := range sum.Servers {
		if !s.Measured() {
			fmt.Println(s.Server, "answered", s.Answered, "of", s.Answered+s.Lost)
			continue
		}
		fmt.Println(s.Server, s.Class, s.TotalOffset)
	}
	if a, b, ok := sum.SpreadBetween(); ok {
		fmt.Println("fleet spread", sum.Spread.Max, "between", a, "and", b)
	}
}
