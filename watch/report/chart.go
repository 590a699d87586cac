package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/leapsmear/leapsmear/plot"
	"github.com/leapsmear/leapsmear/watch"
)

// maxChartPoints bounds the points drawn per line.
const maxChartPoints = 4000

// Chart draws the watch: one line per server of the change of its offset
// from the watcher's clock since its first answer, and, with two servers or
// more, a second panel of each server's offset from the first one at the
// same instant. Offsets are drawn from each server's first answer so that a
// server serving time far from the watcher's (one replaying a past leap is
// years off) reads as well as one that is not; its offset itself is in the
// CSV. Likewise in the second panel, a server whose first difference from
// the first server is beyond FarApart serves another time altogether (a
// replay, a clock set to another day): its line is its difference less that
// first one, which the panel's title states, so that the seconds of a smear
// stay readable beside the years of a replay. Each panel is in microseconds
// when it stays within two milliseconds, in milliseconds otherwise. The
// lines are named after the summary's verdicts.
func Chart(rec *watch.Record, sum watch.Summary, sopt watch.SpreadOptions) plot.Chart {
	name := func(i int) string {
		n := rec.Servers[i]
		if i >= len(sum.Servers) {
			return n
		}
		s := sum.Servers[i]
		class := string(s.Class)
		switch {
		case s.Policy != "" && s.Policy != class:
			return n + ": " + class + " " + s.Policy
		case s.Shape != "" && s.Shape != class:
			return n + ": " + class + " " + s.Shape
		}
		return n + ": " + class
	}
	changes := make([][]watch.Point, len(rec.Servers))
	largest := time.Duration(0)
	for i := range rec.Servers {
		pts := rec.Series(i)
		for k := len(pts) - 1; k >= 0; k-- { // the first last: the others need it
			pts[k].Offset -= pts[0].Offset
			largest = max(largest, abs(pts[k].Offset))
		}
		changes[i] = pts
	}
	unit, label := scale(largest)
	offsets := plot.Panel{Title: "Offset of each server from the watcher's clock, from its first answer",
		YLabel: "change since the first answer (" + label + ")"}
	for i, pts := range changes {
		line := make([]plot.Point, len(pts))
		for k, p := range pts {
			line[k] = plot.Point{At: p.At, Value: float64(p.Offset) / unit}
		}
		offsets.Series = append(offsets.Series, plot.Series{Name: name(i), Points: decimate(line)})
	}
	c := plot.Chart{Title: fmt.Sprintf("leapsmear watch: %d server(s), every %v", len(rec.Servers), rec.Every), Panels: []plot.Panel{offsets}}
	if len(rec.Servers) < 2 {
		return c
	}
	al := watch.Align(rec, sopt)
	// Each server's first difference, and whether it is far: then the line
	// is drawn from it.
	base := make([]time.Duration, len(rec.Servers))
	var far []int
	for i := range rec.Servers {
		for k := range al.Offsets {
			if d, ok := al.Relative(k, i); ok {
				if abs(d) > FarApart {
					base[i] = d
					far = append(far, i)
				}
				break
			}
		}
	}
	largest = 0
	for k := range al.Offsets {
		for i := range rec.Servers {
			if d, ok := al.Relative(k, i); ok {
				largest = max(largest, abs(d-base[i]))
			}
		}
	}
	unit, label = scale(largest)
	rel := plot.Panel{Title: "Offset of each server from " + rec.Servers[0] + " at the same instant", YLabel: "difference (" + label + ")"}
	seconds := func(i int) string { return fmt.Sprintf("%+.3f s", base[i].Seconds()) }
	switch len(far) {
	case 0:
	case 1:
		rel.Title += "\n" + rec.Servers[far[0]] + " drawn less its first difference, " + seconds(far[0]) + " (another time, such as a replay)"
	default:
		var each []string
		for _, i := range far {
			each = append(each, rec.Servers[i]+" "+seconds(i))
		}
		rel.Title += "\ndrawn less their first difference: " + strings.Join(each, ", ") + " (other times, such as replays)"
	}
	for i := range rec.Servers {
		var pts []plot.Point
		for k := range al.Offsets {
			if d, ok := al.Relative(k, i); ok {
				pts = append(pts, plot.Point{At: al.At[k], Value: float64(d-base[i]) / unit})
			}
		}
		rel.Series = append(rel.Series, plot.Series{Name: name(i), Points: decimate(pts)})
	}
	c.Panels = append(c.Panels, rel)
	return c
}

// FarApart is how far from the first server another must be at its first
// comparison to serve another time altogether, not a disagreement about a
// leap second (at most a second, a few with a wrong table): Chart then draws
// its difference from that first one.
const FarApart = time.Minute

// scale returns the unit (in nanoseconds) and its name for values up to
// largest: microseconds up to two milliseconds, milliseconds beyond.
func scale(largest time.Duration) (float64, string) {
	if largest <= 2*time.Millisecond {
		return 1e3, "µs"
	}
	return 1e6, "ms"
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// decimate keeps at most about maxChartPoints points: the lowest and the
// highest of each bucket, in time order, so that steps and outliers stay.
func decimate(pts []plot.Point) []plot.Point {
	if len(pts) <= maxChartPoints {
		return pts
	}
	size := (len(pts) + maxChartPoints/2 - 1) / (maxChartPoints / 2)
	out := make([]plot.Point, 0, maxChartPoints+2)
	for lo := 0; lo < len(pts); lo += size {
		hi := min(lo+size, len(pts))
		a, b := lo, lo
		for j := lo; j < hi; j++ {
			if pts[j].Value < pts[a].Value {
				a = j
			}
			if pts[j].Value > pts[b].Value {
				b = j
			}
		}
		out = append(out, pts[min(a, b)])
		if a != b {
			out = append(out, pts[max(a, b)])
		}
	}
	return out
}
