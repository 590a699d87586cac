package plot

import (
	"fmt"
	"slices"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
)

// PolicyCurves samples, for each smear, the offset from true UTC (ms) and the
// rate (ppm) around the leap of the given day, from from to to (true UTC),
// and returns them as a two-panel chart. Zero from/to span every window with
// a margin. Sampling includes the window edges and the leap itself, so that
// corners and the jump of true UTC are drawn sharp.
func PolicyCurves(smears []*smear.Smear, day time.Time, from, to time.Time, samples int) (Chart, error) {
	if len(smears) == 0 {
		return Chart{}, fmt.Errorf("policy chart: no policy")
	}
	table := smears[0].Table()
	event, ok := table.Find(day)
	if !ok {
		return Chart{}, fmt.Errorf("policy chart: leap table %s has no leap at the end of %s", table.Source, day.Format("2006-01-02"))
	}
	var edges []leap.TAI
	for _, s := range smears {
		for _, w := range s.Windows() {
			if w.Event.Effective.Equal(event.Effective) {
				edges = append(edges, w.Start, w.End)
			}
		}
	}
	edges = append(edges, event.Jump())
	lo, hi := slices.Min(edges), slices.Max(edges)
	if from.IsZero() || to.IsZero() {
		margin := max((hi-lo)/10, leap.TAI(time.Minute))
		lo, hi = lo-margin, hi+margin
	} else {
		lo, hi = table.TAIFromTime(from), table.TAIFromTime(to)
	}
	if hi <= lo {
		return Chart{}, fmt.Errorf("policy chart: empty time span")
	}
	if samples < 2 {
		samples = 2
	}
	xs := make([]leap.TAI, 0, samples+3*len(edges))
	for i := 0; i < samples; i++ {
		xs = append(xs, lo+leap.TAI(int64(hi-lo)/int64(samples-1)*int64(i)))
	}
	for _, e := range edges {
		if e > lo && e < hi {
			xs = append(xs, e-1, e, e+1)
		}
	}
	slices.Sort(xs)
	xs = slices.Compact(xs)

	offsets := Panel{Title: "Served time minus true UTC", YLabel: "offset (ms)"}
	rates := Panel{Title: "Rate of the served clock", YLabel: "frequency offset (ppm)"}
	for _, s := range smears {
		off := Series{Name: s.Policy().Name, Points: make([]Point, len(xs))}
		rate := Series{Name: s.Policy().Name, Points: make([]Point, len(xs))}
		for i, x := range xs {
			at := table.UnixFromTAI(x).Time()
			off.Points[i] = Point{At: at, Value: float64(s.Offset(x)) / 1e6}
			rate.Points[i] = Point{At: at, Value: s.RatePPM(x)}
		}
		offsets.Series = append(offsets.Series, off)
		rates.Series = append(rates.Series, rate)
	}
	sign := "inserted"
	if event.Delta < 0 {
		sign = "deleted"
	}
	return Chart{
		Title:  fmt.Sprintf("Leap second %s at the end of %s", sign, event.Day().Format("2006-01-02")),
		Panels: []Panel{offsets, rates},
	}, nil
}
