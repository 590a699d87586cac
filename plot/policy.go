package plot

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/leapsmear/leapsmear/internal/option"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
)

// RateScaleRatio is how much faster than the slowest policy of a rate panel
// a policy may smear and still share its scale: faster policies get a panel
// of their own, so that slew-500ppm does not flatten the curves of the 10 to
// 30 ppm smears to a line at 0.
const RateScaleRatio = 6

// MaxSamples bounds the points per curve of PolicyCurves: far more than a
// chart can show, and memory a chart never needs.
const MaxSamples = 100000

// PolicyCurves samples each smear around the leap of the given day, from
// from to to (true UTC; zero from/to span every window with a margin), and
// returns a chart of three or more panels:
//
//   - the smear itself: the part of the leap second applied (s*(U - served),
//     0 to 1 s) against the continuous scale U, the smooth curve the policy
//     is (U is labelled as UTC, which it equals before the leap and leads by
//     a second after an inserted one);
//   - served time minus true UTC (ms), which jumps by a second where true
//     UTC repeats or skips one;
//   - the rate of the served clock (ppm), in one panel per group of
//     policies whose peak rates lie within RateScaleRatio of each other (the
//     step policy has no rate and is left out).
//
// Sampling includes the window edges and the leap itself, so that corners
// and jumps are drawn sharp.
func PolicyCurves(smears []*smear.Smear, day time.Time, from, to time.Time, samples int) (Chart, error) {
	if samples < 2 || samples > MaxSamples {
		return Chart{}, option.Errorf("samples", samples, "want 2 to %d points per curve", MaxSamples)
	}
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

	sign := int64(event.Delta)
	before := int64(event.Before()) * leap.Second
	applied := Panel{Title: "The smear: part of the leap second applied, on the continuous time scale", YLabel: "applied (s)"}
	offsets := Panel{Title: "Served time minus true UTC (true UTC repeats or skips a second at the leap)", YLabel: "offset (ms)"}
	type rated struct {
		series Series
		peak   float64
		order  int
	}
	var rates []rated
	hasStep := false
	for _, s := range smears {
		name := s.Policy().Name
		app := Series{Name: name, Points: make([]Point, len(xs))}
		off := Series{Name: name, Points: make([]Point, len(xs))}
		rate := rated{series: Series{Name: name, Points: make([]Point, len(xs))}, order: len(rates)}
		for i, x := range xs {
			u := int64(x) - before // the continuous scale, POSIX ns before the leap
			app.Points[i] = Point{At: time.Unix(0, u).UTC(), Value: float64(sign*(u-int64(s.Served(x)))) / 1e9}
			at := table.UnixFromTAI(x).Time()
			off.Points[i] = Point{At: at, Value: float64(s.Offset(x)) / 1e6}
			r := s.RatePPM(x)
			rate.series.Points[i] = Point{At: at, Value: r}
			rate.peak = max(rate.peak, math.Abs(r))
		}
		applied.Series = append(applied.Series, app)
		offsets.Series = append(offsets.Series, off)
		if s.Policy().Shape == smear.Step {
			hasStep = true
		} else {
			rates = append(rates, rate)
		}
	}
	panels := []Panel{applied, offsets}

	// Group the rates by peak, slowest first; a policy more than
	// RateScaleRatio times faster than the slowest of its group starts a new
	// panel.
	slices.SortStableFunc(rates, func(a, b rated) int { return cmp.Compare(a.peak, b.peak) })
	var groups [][]rated
	for _, r := range rates {
		if n := len(groups); n > 0 && (groups[n-1][0].peak == 0 || r.peak <= RateScaleRatio*groups[n-1][0].peak) {
			groups[n-1] = append(groups[n-1], r)
		} else {
			groups = append(groups, []rated{r})
		}
	}
	for i, g := range groups {
		p := Panel{Title: "Rate of the served clock", YLabel: "frequency offset (ppm)"}
		if len(groups) > 1 && i > 0 {
			var names []string
			for _, r := range g {
				names = append(names, r.series.Name)
			}
			p.Title = fmt.Sprintf("Rate of the served clock: %s, on a scale of its own", strings.Join(names, ", "))
		}
		if i == 0 && hasStep {
			p.Title += " (step has none: it jumps)"
		}
		// In the order the policies were given.
		slices.SortFunc(g, func(a, b rated) int { return cmp.Compare(a.order, b.order) })
		for _, r := range g {
			p.Series = append(p.Series, r.series)
		}
		panels = append(panels, p)
	}
	kind := "inserted"
	if event.Delta < 0 {
		kind = "deleted"
	}
	return Chart{
		Title:  fmt.Sprintf("Leap second %s at the end of %s", kind, event.Day().Format("2006-01-02")),
		Panels: panels,
	}, nil
}
