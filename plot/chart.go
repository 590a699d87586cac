// Package plot draws time charts (SVG or PNG) with gonum/plot: panels of
// lines against UTC time, stacked one above the other and sharing the time
// axis, with one legend beside them. It is used for policy curves, watched
// servers and the status page.
package plot

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	xfont "golang.org/x/image/font"
	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
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

// Series is one named line. Series of the same name look the same in every
// panel of a chart and share one entry of its legend.
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

// Chart is a stack of panels sharing the time axis, with a title above them
// and a legend to their right, where it cannot hide a curve.
type Chart struct {
	Title  string
	Panels []Panel
	// Marker, when set, draws a vertical line labelled MarkerLabel at that
	// instant on every panel (the status page marks "now").
	Marker      time.Time
	MarkerLabel string
	// Width and Height of the whole picture. The width is 10 inches when
	// zero, the height 1 inch plus 2.1 inches per panel (at least 7).
	Width, Height vg.Length
}

// Format is an output format for Write.
type Format string

// Output formats.
const (
	SVG Format = "svg"
	PNG Format = "png"
)

// ParseFormat reads a format name: "svg" or "png", in any case.
func ParseFormat(name string) (Format, error) {
	switch f := Format(strings.ToLower(name)); f {
	case SVG, PNG:
		return f, nil
	}
	return "", fmt.Errorf("unknown picture format %q (want svg or png)", name)
}

// FormatOf returns the format a file name asks for by its extension, .svg
// or .png in any case, and an error for any other name.
func FormatOf(path string) (Format, error) {
	ext := filepath.Ext(path)
	if ext == "" {
		return "", fmt.Errorf("%s: no extension to choose the picture format by (want .svg or .png)", path)
	}
	f, err := ParseFormat(ext[1:])
	if err != nil {
		return "", fmt.Errorf("%s: leapsmear draws .svg and .png pictures, not %s", path, ext)
	}
	return f, nil
}

// Liberation Sans, which gonum/plot embeds, is metric-compatible with Arial
// and Helvetica: SVG output names those and then any sans-serif as
// fallbacks, so that a reader without it sees the layout that was measured,
// in a sans-serif face like the status page's.
var (
	sans     = font.Font{Typeface: "Liberation", Variant: "Sans"}
	sansBold = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}
)

const svgFontFamily = "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"

func textStyle(f font.Font, size vg.Length) text.Style {
	return text.Style{Color: color.Black, Font: font.From(f, size), Handler: gplot.DefaultTextHandler}
}

// palette is Okabe and Ito's colour-blind safe palette, darkened where it
// is too light on white (yellow, sky blue).
var palette = []color.RGBA{
	{0, 114, 178, 255},   // blue
	{213, 94, 0, 255},    // vermillion
	{0, 158, 115, 255},   // bluish green
	{204, 121, 167, 255}, // reddish purple
	{86, 150, 200, 255},  // sky blue
	{175, 125, 0, 255},   // yellow, darkened
	{0, 0, 0, 255},       // black
	{120, 120, 120, 255}, // grey
}

// dashes tell lines apart where they overlap and in grey print.
var dashes = [][]vg.Length{
	nil,
	{vg.Points(6), vg.Points(2)},
	{vg.Points(2), vg.Points(2)},
	{vg.Points(8), vg.Points(2), vg.Points(2), vg.Points(2)},
	{vg.Points(4), vg.Points(4)},
	{vg.Points(1), vg.Points(2)},
}

// lineStyle is the style of the i-th distinct series of a chart.
func lineStyle(i int) draw.LineStyle {
	return draw.LineStyle{Color: palette[i%len(palette)], Width: vg.Points(1.8), Dashes: dashes[i%len(dashes)]}
}

var markerStyle = draw.LineStyle{Color: color.RGBA{R: 200, A: 255}, Width: vg.Points(1.2),
	Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}

// Write renders the chart in the given format.
func (c Chart) Write(w io.Writer, f Format) error {
	if len(c.Panels) == 0 {
		return fmt.Errorf("chart %q: no panels", c.Title)
	}
	width, height := c.size()
	var canvas vg.CanvasWriterTo
	switch f {
	case SVG:
		canvas = vgsvg.New(width, height)
	case PNG:
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110))}
	default:
		return fmt.Errorf("chart %q: unknown format %q (want svg or png)", c.Title, f)
	}
	if err := c.draw(draw.New(canvas)); err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return fmt.Errorf("chart %q: %w", c.Title, err)
	}
	out := buf.Bytes()
	if f == SVG {
		out = bytes.ReplaceAll(out, []byte("font-family:Liberation Sans;"), []byte(svgFontFamily))
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("chart %q: %w", c.Title, err)
	}
	return nil
}

// size returns the width and height of the picture.
func (c Chart) size() (width, height vg.Length) {
	width, height = c.Width, c.Height
	if width == 0 {
		width = 10 * vg.Inch
	}
	if height == 0 {
		height = max(7*vg.Inch, vg.Inch+2.1*vg.Inch*vg.Length(len(c.Panels)))
	}
	return width, height
}

// draw lays the chart out on dc: the title on top, the legend in a column
// on the right, the panels in a stack below the title and left of the
// legend, their data areas aligned.
func (c Chart) draw(dc draw.Canvas) error {
	pad := 3 * vg.Millimeter
	dc = draw.Crop(dc, pad, -pad, pad, -pad)
	if c.Title != "" {
		sty := textStyle(sansBold, 14)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		dc.FillText(sty, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y}, c.Title)
		dc.Max.Y -= sty.Height(c.Title) + 2*vg.Millimeter
	}

	// One style per distinct series name, in order of appearance.
	styles := map[string]int{}
	legend := gplot.NewLegend()
	legend.TextStyle = textStyle(sans, 11)
	legend.Top, legend.Left = true, true
	legend.Padding = vg.Points(3)
	for _, p := range c.Panels {
		for _, s := range p.Series {
			if _, ok := styles[s.Name]; !ok {
				styles[s.Name] = len(styles)
				legend.Add(s.Name, lineThumb(lineStyle(styles[s.Name])))
			}
		}
	}
	if !c.Marker.IsZero() && c.MarkerLabel != "" {
		legend.Add(c.MarkerLabel, lineThumb(markerStyle))
	}
	if lw := legend.Rectangle(dc).Size().X; lw > 0 {
		col := dc
		col.Min.X = dc.Max.X - lw
		col.Max.Y -= 6 * vg.Millimeter // level with the first panel's data area, below its title
		legend.Draw(col)
		dc.Max.X = col.Min.X - 4*vg.Millimeter
	}

	// The time span of every point, shared by the panels.
	xlo, xhi := math.Inf(1), math.Inf(-1)
	for _, p := range c.Panels {
		for _, s := range p.Series {
			for _, pt := range s.Points {
				x := unixSeconds(pt.At)
				xlo, xhi = min(xlo, x), max(xhi, x)
			}
		}
	}
	if !c.Marker.IsZero() {
		x := unixSeconds(c.Marker)
		xlo, xhi = min(xlo, x), max(xhi, x)
	}
	if xlo > xhi {
		return fmt.Errorf("chart %q: no points", c.Title)
	}
	if xlo == xhi {
		xlo, xhi = xlo-30, xhi+30
	}

	plots := make([][]*gplot.Plot, len(c.Panels))
	for i, p := range c.Panels {
		pl, err := c.panel(p, styles, xlo, xhi, i == len(c.Panels)-1, dc.Max.X-dc.Min.X)
		if err != nil {
			return err
		}
		plots[i] = []*gplot.Plot{pl}
	}
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadY: 5 * vg.Millimeter}
	canvases := gplot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	return nil
}

// panel builds one gonum plot from a panel, its title wrapped to width.
func (c Chart) panel(p Panel, styles map[string]int, xlo, xhi float64, last bool, width vg.Length) (*gplot.Plot, error) {
	pl := gplot.New()
	pl.Title.TextStyle.Font = font.From(sans, 12)
	pl.Title.Text = wrap(pl.Title.TextStyle, p.Title, width)
	pl.Title.Padding = 2 * vg.Millimeter
	for _, a := range []*gplot.Axis{&pl.X, &pl.Y} {
		a.Label.TextStyle.Font = font.From(sans, 11)
		a.Tick.Label.Font = font.From(sans, 10)
		a.Color = color.Gray{Y: 90}
		a.Tick.Color = color.Gray{Y: 90}
	}
	pl.Y.Label.Text = p.YLabel
	pl.Y.Tick.Marker = numberTicks{}
	pl.X.Tick.Marker = timeTicks{}
	if last {
		pl.X.Label.Text = timeAxisLabel(xlo, xhi)
	}
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 225}
	grid.Horizontal.Color = color.Gray{Y: 225}
	pl.Add(grid)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range p.Series {
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
		line.LineStyle = lineStyle(styles[s.Name])
		pl.Add(line)
	}
	if ymin > ymax {
		ymin, ymax = 0, 0
	}
	if ymin == ymax {
		ymin, ymax = ymin-1, ymax+1
	}
	margin := (ymax - ymin) * 0.06
	ymin, ymax = ymin-margin, ymax+margin
	if !c.Marker.IsZero() {
		x := unixSeconds(c.Marker)
		marker, err := plotter.NewLine(plotter.XYs{{X: x, Y: ymin}, {X: x, Y: ymax}})
		if err != nil {
			return nil, err
		}
		marker.LineStyle = markerStyle
		pl.Add(marker)
	}
	pl.X.Min, pl.X.Max = xlo, xhi
	pl.Y.Min, pl.Y.Max = ymin, ymax
	return pl, nil
}

// wrap breaks each line of s between words so that no line is wider than
// width in style sty (a word wider than that stays whole, on a line of its
// own).
func wrap(sty text.Style, s string, width vg.Length) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		cur := ""
		for _, w := range strings.Fields(line) {
			switch {
			case cur == "":
				cur = w
			case sty.Width(cur+" "+w) <= width:
				cur += " " + w
			default:
				out = append(out, cur)
				cur = w
			}
		}
		out = append(out, cur)
	}
	return strings.Join(out, "\n")
}

// lineThumb draws a legend entry's sample of a line style.
type lineThumb draw.LineStyle

// Thumbnail implements gplot.Thumbnailer.
func (l lineThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(draw.LineStyle(l), c.Min.X, y, c.Max.X, y)
}

// unixSeconds is the x coordinate of an instant: UTC POSIX seconds.
func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

// timeAxisLabel names the scale and the UTC days the axis spans, which the
// tick labels leave out: "UTC, 2016-12-31 to 2017-01-01".
func timeAxisLabel(lo, hi float64) string {
	a, b := time.Unix(int64(math.Floor(lo)), 0).UTC(), time.Unix(int64(math.Floor(hi)), 0).UTC()
	if a.Format(time.DateOnly) == b.Format(time.DateOnly) {
		return "UTC, " + a.Format(time.DateOnly)
	}
	return "UTC, " + a.Format(time.DateOnly) + " to " + b.Format(time.DateOnly)
}

// timeTicks puts major ticks on round UTC times (whole seconds, minutes,
// hours or days), at most about eight of them, labelled with the time of
// day ("18:00", or "23:59:30" below a minute) and, at midnight, with the
// date instead ("Jan 1"): the date then appears once per day, not on
// every tick.
type timeTicks struct{}

var tickSteps = []float64{1, 5, 10, 30, 60, 300, 600, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400}

// Ticks returns the ticks between lo and hi, in POSIX seconds.
func (timeTicks) Ticks(lo, hi float64) []gplot.Tick {
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if (hi-lo)/s <= 8 {
			step = s
			break
		}
	}
	minor := step / 4 // exact in binary for every step above
	var ticks []gplot.Tick
	for k := math.Ceil(lo / minor); k*minor <= hi; k++ {
		t := gplot.Tick{Value: k * minor}
		if math.Mod(k, 4) == 0 {
			t.Label = timeLabel(k*minor, step)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

func timeLabel(v, step float64) string {
	t := time.Unix(int64(v), 0).UTC()
	switch {
	case math.Mod(v, 86400) == 0:
		return t.Format("Jan 2")
	case step < 60:
		return t.Format("15:04:05")
	}
	return t.Format("15:04")
}

// numberTicks puts about four to seven major ticks on multiples of a round step
// (1, 2, 2.5 or 5 times a power of ten), so that 0 is one of them whenever
// it is in range, labelled with as few decimals as show every value exactly
// ("-250", "0.25").
type numberTicks struct{}

// Ticks returns the ticks between lo and hi.
func (numberTicks) Ticks(lo, hi float64) []gplot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return gplot.DefaultTicks{}.Ticks(lo, hi)
	}
	raw := (hi - lo) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	minor := step / 5
	var ticks []gplot.Tick
	for k := math.Ceil(lo/minor - 1e-9); k*minor <= hi+minor*1e-9; k++ {
		t := gplot.Tick{Value: k * minor}
		if math.Mod(k, 5) == 0 {
			t.Label = "major"
		}
		ticks = append(ticks, t)
	}
	tiny := step * 1e-9
	decimals := 0
	for ; decimals < 12; decimals++ {
		scale := math.Pow(10, float64(decimals))
		if math.Abs(math.Round(step*scale)/scale-step) <= tiny {
			break
		}
	}
	for i := range ticks {
		if ticks[i].Label == "" {
			continue
		}
		v := ticks[i].Value
		if math.Abs(v) <= tiny {
			v = 0 // no "-0"
		}
		ticks[i].Label = strconv.FormatFloat(v, 'f', decimals, 64)
	}
	return ticks
}
