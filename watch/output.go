package watch

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/leapsmear/leapsmear/plot"
)

// csvHeader names the columns of WriteCSV.
var csvHeader = []string{"round", "round_at", "server", "address", "answered", "at", "offset_ns", "delay_ns",
	"relative_ns", "li", "stratum", "error"}

// WriteCSV writes one row per round and server: the round's number and
// start, the server, whether it answered, the sample's instant, offset and
// delay, its offset relative to the first server at the round's common
// instant (empty when not compared: see Align), the leap indicator and
// stratum it sent, and the error of the exchange if any.
func WriteCSV(w io.Writer, rec *Record, sopt SpreadOptions) error {
	al := Align(rec, sopt)
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	for k, rd := range rec.Rounds {
		for i, s := range rd.Samples {
			row := []string{strconv.Itoa(k), formatTime(rd.At), rec.Servers[i], addr(rec, i), "0", "", "", "", "", "", "", ""}
			if s.Answered {
				row[4], row[5] = "1", formatTime(s.At)
				row[6], row[7] = strconv.FormatInt(int64(s.Offset), 10), strconv.FormatInt(int64(s.Delay), 10)
				row[9], row[10] = strconv.Itoa(int(s.Leap)), strconv.Itoa(int(s.Stratum))
			}
			if rel, ok := al.Relative(k, i); ok {
				row[8] = strconv.FormatInt(int64(rel), 10)
			}
			if s.Err != nil {
				row[11] = s.Err.Error()
			}
			if err := cw.Write(row); err != nil {
				return fmt.Errorf("csv: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}

func addr(rec *Record, i int) string {
	if i < len(rec.Addrs) {
		return rec.Addrs[i]
	}
	return ""
}

// maxChartPoints bounds the points drawn per line.
const maxChartPoints = 4000

// Chart draws the watch: one line per server of its offset from the
// watcher's clock, and, with two servers or more, a second panel of each
// server's offset from the first one (in microseconds when they stay within
// two milliseconds of it). The lines are named after the summary's verdicts.
func Chart(rec *Record, sum Summary, sopt SpreadOptions) plot.Chart {
	name := func(i int) string {
		n := rec.Servers[i]
		if i >= len(sum.Servers) {
			return n
		}
		s := sum.Servers[i]
		switch {
		case s.Policy != "" && s.Policy != s.Class:
			return n + ": " + s.Class + " " + s.Policy
		case s.Shape != "" && s.Shape != s.Class:
			return n + ": " + s.Class + " " + s.Shape
		}
		return n + ": " + s.Class
	}
	offsets := plot.Panel{Title: "Offset of each server from the watcher's clock", YLabel: "offset (ms)"}
	for i := range rec.Servers {
		var pts []plot.Point
		for _, p := range rec.Series(i) {
			pts = append(pts, plot.Point{At: p.At, Value: float64(p.Offset) / 1e6})
		}
		offsets.Series = append(offsets.Series, plot.Series{Name: name(i), Points: decimate(pts)})
	}
	c := plot.Chart{Title: fmt.Sprintf("leapsmear watch: %d server(s), every %v", len(rec.Servers), rec.Every), Panels: []plot.Panel{offsets}}
	if len(rec.Servers) < 2 {
		return c
	}
	al := Align(rec, sopt)
	largest := time.Duration(0)
	for k := range al.Offsets {
		for i := range rec.Servers {
			if rel, ok := al.Relative(k, i); ok {
				largest = max(largest, abs(rel))
			}
		}
	}
	unit, label := 1e6, "ms"
	if largest <= 2*time.Millisecond {
		unit, label = 1e3, "µs"
	}
	rel := plot.Panel{Title: "Offset of each server from " + rec.Servers[0] + " at the same instant", YLabel: "difference (" + label + ")"}
	for i := range rec.Servers {
		var pts []plot.Point
		for k := range al.Offsets {
			if d, ok := al.Relative(k, i); ok {
				pts = append(pts, plot.Point{At: al.At[k], Value: float64(d) / unit})
			}
		}
		rel.Series = append(rel.Series, plot.Series{Name: name(i), Points: decimate(pts)})
	}
	c.Panels = append(c.Panels, rel)
	return c
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
