// Package plot draws time charts (SVG or PNG) with gonum/plot: panels of
// lines against UTC time, stacked one above the other and sharing the time
// axis. It is used for policy curves, watched servers and the status page.
package plot

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"time"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Point is one value at one instant.
type Point struct {
	At    time.Time
	Value float64
}

// Series is one named line.
type Series struct {
	Name   string
	Points []Point
}

// Panel is one chart with a y axis of its own.
type Panel struct {
	Title  string
	YLabel string
	Series []Series
}

// Chart is a stack of panels sharing the time axis.
type Chart struct {
	Title  string
	Panels []Panel
	// Marker, when set, draws a vertical line labelled MarkerLabel at that
	// instant on every panel (the status page marks "now").
	Marker      time.Time
	MarkerLabel string
	// Width and Height of the whole picture; 10 by 7 inches when zero.
	Width, Height vg.Length
}

// Format is an output format for Write.
type Format string

// Output formats.
const (
	SVG Format = "svg"
	PNG Format = "png"
)

// Write renders the chart in the given format.
func (c Chart) Write(w io.Writer, f Format) error {
	width, height := c.Width, c.Height
	if width == 0 {
		width = 10 * vg.Inch
	}
	if height == 0 {
		height = 7 * vg.Inch
	}
	if len(c.Panels) == 0 {
		return fmt.Errorf("chart %q: no panels", c.Title)
	}
	var canvas vg.CanvasWriterTo
	switch f {
	case SVG:
		canvas = vgsvg.New(width, height)
	case PNG:
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110))}
	default:
		return fmt.Errorf("chart %q: unknown format %q (want svg or png)", c.Title, f)
	}
	plots := make([][]*gplot.Plot, len(c.Panels))
	for i, p := range c.Panels {
		pl, err := c.panel(p, i == 0)
		if err != nil {
			return err
		}
		plots[i] = []*gplot.Plot{pl}
	}
	dc := draw.New(canvas)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := gplot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	if _, err := canvas.WriteTo(w); err != nil {
		return fmt.Errorf("chart %q: %w", c.Title, err)
	}
	return nil
}

// panel builds one gonum plot from a panel.
func (c Chart) panel(p Panel, first bool) (*gplot.Plot, error) {
	pl := gplot.New()
	pl.Title.Text = p.Title
	if first && c.Title != "" {
		pl.Title.Text = c.Title + "\n" + p.Title
	}
	pl.Y.Label.Text = p.YLabel
	pl.X.Label.Text = "UTC"
	pl.X.Tick.Marker = gplot.TimeTicks{Ticker: roundTimeTicks{}, Format: "Jan 2\n15:04:05"}
	pl.Add(plotter.NewGrid())
	pl.Legend.Top = true
	pl.Legend.Left = true
	pl.Legend.XOffs = vg.Millimeter * 2
	ymin, ymax := 0.0, 0.0
	for i, s := range p.Series {
		xys := make(plotter.XYs, len(s.Points))
		for j, pt := range s.Points {
			xys[j].X = unixSeconds(pt.At)
			xys[j].Y = pt.Value
			ymin, ymax = min(ymin, pt.Value), max(ymax, pt.Value)
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("chart %q, panel %q, series %q: %w", c.Title, p.Title, s.Name, err)
		}
		line.Color = plotutil.Color(i)
		line.Dashes = plotutil.Dashes(i)
		line.Width = vg.Points(1.5)
		pl.Add(line)
		pl.Legend.Add(s.Name, line)
	}
	if !c.Marker.IsZero() {
		x := unixSeconds(c.Marker)
		if ymin == ymax {
			ymin, ymax = ymin-1, ymax+1
		}
		marker, err := plotter.NewLine(plotter.XYs{{X: x, Y: ymin}, {X: x, Y: ymax}})
		if err != nil {
			return nil, err
		}
		marker.Color = color.RGBA{R: 200, A: 255}
		marker.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		pl.Add(marker)
		if c.MarkerLabel != "" {
			pl.Legend.Add(c.MarkerLabel, marker)
		}
	}
	return pl, nil
}

// unixSeconds is the x coordinate of an instant (gonum's TimeTicks read UTC
// POSIX seconds).
func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

// roundTimeTicks puts major ticks on round UTC times (whole minutes, hours or
// days), at most about eight of them.
type roundTimeTicks struct{}

var tickSteps = []float64{1, 5, 10, 30, 60, 300, 600, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400}

// Ticks returns the ticks between min and max, in POSIX seconds.
func (roundTimeTicks) Ticks(lo, hi float64) []gplot.Tick {
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if (hi-lo)/s <= 8 {
			step = s
			break
		}
	}
	var ticks []gplot.Tick
	minor := step / 4
	for v := math.Ceil(lo/minor) * minor; v <= hi; v += minor {
		t := gplot.Tick{Value: v}
		if math.Mod(v, step) == 0 {
			t.Label = "major" // TimeTicks replaces any non-empty label with the formatted time
		}
		ticks = append(ticks, t)
	}
	return ticks
}
