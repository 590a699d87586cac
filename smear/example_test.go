package smear_test

import (
	"fmt"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
)

// A table with the leap second at the end of 2016 (TAI-UTC 36 -> 37).
var table = &leap.Table{Base: 36, Source: "example", Events: []leap.Event{
	{Effective: time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 37, Delta: 1},
}}

func Example() {
	policy, err := smear.Parse("noon-to-noon")
	if err != nil {
		panic(err)
	}
	s, err := smear.New(table, policy)
	if err != nil {
		panic(err)
	}
	for _, at := range []string{"2016-12-31T12:00:00Z", "2016-12-31T18:00:00Z", "2016-12-31T23:59:60Z", "2017-01-01T12:00:00Z"} {
		label, _ := leap.ParseLabel(at)
		x, _ := table.TAIFromLabel(label)
		served := s.Served(x).Time()
		fmt.Printf("%s served as %s (offset %d ns)\n", at, served.Format(time.RFC3339Nano), int64(s.Offset(x)))
	}
	// Output:
	// 2016-12-31T12:00:00Z served as 2016-12-31T12:00:00Z (offset 0 ns)
	// 2016-12-31T18:00:00Z served as 2016-12-31T17:59:59.750002894Z (offset -249997106 ns)
	// 2016-12-31T23:59:60Z served as 2016-12-31T23:59:59.500005787Z (offset 500005787 ns)
	// 2017-01-01T12:00:00Z served as 2017-01-01T12:00:00Z (offset 0 ns)
}

func ExampleParse() {
	p, err := smear.Parse("linear:-30s:61s")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Shape, p.Start, p.WindowLength(+1), fmt.Sprintf("%.1f ppm", p.MaxRatePPM(+1)))
	_, err = smear.Parse("linear:0s:1s")
	fmt.Println(err)
	// Output:
	// linear -30s 1m1s 16393.4 ppm
	// policy linear:0s:1s: smearing one second over 1s needs 1000000 ppm, more than the 500000 ppm allowed; use a longer window or step
}

// quadratic-17h starts its window 2 s before the leap for a deleted second,
// where chronyd starts its curve; Spec spells the window of each sign.
func ExamplePolicy_WindowStart() {
	p, _ := smear.Parse("quadratic-17h")
	fmt.Println(p.WindowStart(+1), p.WindowStart(-1))
	fmt.Println(p.Spec(+1), p.Spec(-1))
	// Output:
	// 0s -2s
	// quadratic:0s:17h21m40s quadratic:-2s:17h21m40s
}

func ExampleSmear_Unsmear() {
	s, _ := smear.New(table, smear.Presets()[1]) // noon-to-noon
	// A log line stamped by a smeared clock at 2017-01-01T06:00:00Z happened
	// at 05:59:59.75 true UTC. Unsmear is exact to 1 ns: the slowed clock
	// serves some nanoseconds twice, and the first instant is returned.
	stamp := smear.Time(time.Date(2017, 1, 1, 6, 0, 0, 0, time.UTC).UnixNano())
	fmt.Println(table.LabelFromTAI(s.Unsmear(stamp)))
	// Output:
	// 2017-01-01T05:59:59.749999999Z
}
