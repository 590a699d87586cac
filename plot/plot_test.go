package plot

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
)

func presetSmears(t *testing.T, table *leap.Table) []*smear.Smear {
	t.Helper()
	var out []*smear.Smear
	for _, p := range smear.Presets() {
		s, err := smear.New(table, p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func table2016() *leap.Table {
	return &leap.Table{Base: 36, Source: "test", Events: []leap.Event{
		{Effective: time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 37, Delta: 1},
	}}
}

func tableDeleted() *leap.Table {
	return &leap.Table{Base: 37, Source: "test", Events: []leap.Event{
		{Effective: time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 36, Delta: -1},
	}}
}

func series(t *testing.T, p Panel, name string) Series {
	t.Helper()
	for _, s := range p.Series {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("panel %q has no series %q", p.Title, name)
	return Series{}
}

// svgTexts returns the text of every <text> element of an SVG document,
// checking that it is well-formed XML.
func svgTexts(t *testing.T, svg string) []string {
	t.Helper()
	var texts []string
	dec := xml.NewDecoder(strings.NewReader(svg))
	in := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			in = tok.Name.Local == "text"
		case xml.CharData:
			if in {
				texts = append(texts, string(tok))
			}
		case xml.EndElement:
			in = false
		}
	}
	return texts
}

func TestPolicyCurvesSVG(t *testing.T) {
	c, err := PolicyCurves(presetSmears(t, table2016()), time.Date(2016, 12, 31, 0, 0, 0, 0, time.UTC), time.Time{}, time.Time{}, 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Panels) != 4 {
		t.Fatalf("%d panels, want the smear, the offset and two rate panels", len(c.Panels))
	}
	// The smear panel: the part of the leap second applied rises from 0 to
	// 1 s no faster than the policy's rate, and at once for step.
	for i, s := range c.Panels[0].Series {
		maxRate := smear.Presets()[i].MaxRatePPM(1) / 1e6
		first, last := s.Points[0].Value, s.Points[len(s.Points)-1].Value
		if first != 0 || last != 1 {
			t.Errorf("%s: applied %g s before and %g s after, want 0 and 1", s.Name, first, last)
		}
		biggest := 0.0
		for i := 1; i < len(s.Points); i++ {
			if s.Points[i].At.Before(s.Points[i-1].At) {
				t.Fatalf("%s: the smear panel's time goes back at %v", s.Name, s.Points[i].At)
			}
			d := s.Points[i].Value - s.Points[i-1].Value
			if d < 0 {
				t.Fatalf("%s: applied part decreases at %v", s.Name, s.Points[i].At)
			}
			biggest = max(biggest, d)
			if dt := s.Points[i].At.Sub(s.Points[i-1].At).Seconds(); s.Name != "step" && d > dt*maxRate+1e-9 {
				t.Fatalf("%s: rises by %g s in %g s at %v, faster than %g ppm", s.Name, d, dt, s.Points[i].At, maxRate*1e6)
			}
		}
		if s.Name == "step" && biggest != 1 {
			t.Errorf("step: largest rise %g, want the whole second at once", biggest)
		}
	}
	// The offset panel: noon-to-noon reaches -500 ms just before the leap
	// and +500 ms just after it (true UTC repeats a second).
	lowest, highest := 0.0, 0.0
	for _, p := range series(t, c.Panels[1], "noon-to-noon").Points {
		lowest, highest = min(lowest, p.Value), max(highest, p.Value)
	}
	if lowest > -499.98 || lowest < -500 || highest < 499.99 || highest > 500.01 {
		t.Errorf("noon-to-noon offsets span [%f, %f] ms, want about [-500, 500]", lowest, highest)
	}
	// The rates: step has none; slew-500ppm gets a panel of its own, the
	// 10 to 32 ppm smears share the first.
	var rateNames [][]string
	for _, p := range c.Panels[2:] {
		var names []string
		peaks := []float64{}
		for _, s := range p.Series {
			names = append(names, s.Name)
			peak := 0.0
			for _, pt := range s.Points {
				peak = max(peak, math.Abs(pt.Value))
			}
			peaks = append(peaks, peak)
		}
		if slices.Max(peaks) > RateScaleRatio*slices.Min(peaks) {
			t.Errorf("rate panel %q: peaks %v share one scale", p.Title, peaks)
		}
		rateNames = append(rateNames, names)
	}
	want := [][]string{{"noon-to-noon", "google-2016", "cosine-2008", "quadratic-17h"}, {"slew-500ppm"}}
	if !slices.EqualFunc(rateNames, want, slices.Equal) {
		t.Errorf("rate panels %v, want %v", rateNames, want)
	}
	if rate := series(t, c.Panels[2], "noon-to-noon").Points[len(c.Panels[2].Series[0].Points)/2].Value; math.Abs(rate+1e6/86401) > 1e-6 {
		t.Errorf("noon-to-noon rate at the leap %f ppm, want -1/86401", rate)
	}

	var buf bytes.Buffer
	if err := c.Write(&buf, SVG); err != nil {
		t.Fatal(err)
	}
	svg := buf.String()
	texts := svgTexts(t, svg)
	for _, want := range append(smear.PresetNames(), "applied (s)", "offset (ms)", "frequency offset (ppm)", "UTC, 2016-12-30 to 2017-01-01",
		"Leap second inserted at the end of 2016-12-31", "Rate of the served clock: slew-500ppm, on a scale of its own") {
		if !slices.Contains(texts, want) {
			t.Errorf("SVG has no text %q", want)
		}
	}
	// Each name appears once in the legend, not in a legend per panel.
	for _, name := range smear.PresetNames() {
		if n := strings.Count(strings.Join(texts, "\n")+"\n", "\n"+name+"\n"); n > 1 {
			t.Errorf("%q is written %d times", name, n)
		}
	}
	// The text is in a sans-serif face with fallbacks, never the serif
	// default.
	if strings.Contains(svg, "Serif") || !strings.Contains(svg, svgFontFamily) {
		t.Errorf("SVG fonts: %v", regexp.MustCompile(`font-family:[^;]*;`).FindAllString(svg, 3))
	}
	checkTimeTicks(t, texts, 4)
}

// checkTimeTicks checks the time axis labels among an SVG's texts: times of
// day, or a date alone at midnight, never a date with a time, and no more
// dates than panels times days.
func checkTimeTicks(t *testing.T, texts []string, panels int) {
	t.Helper()
	timeOfDay := regexp.MustCompile(`^\d\d:\d\d(:\d\d)?$`)
	date := regexp.MustCompile(`^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}$`)
	times, dates := 0, 0
	for _, s := range texts {
		switch {
		case timeOfDay.MatchString(s):
			times++
		case date.MatchString(s):
			dates++
		case regexp.MustCompile(`\d\d:\d\d`).MatchString(s) && !strings.Contains(s, "Leap"):
			t.Errorf("label %q mixes a date and a time", s)
		}
	}
	if times < 2*panels || dates > 3*panels {
		t.Errorf("%d time-of-day labels and %d date labels on %d panels", times, dates, panels)
	}
}

func TestPolicyCurvesDeletedSecond(t *testing.T) {
	table := tableDeleted()
	c, err := PolicyCurves(presetSmears(t, table), time.Date(2030, 6, 30, 0, 0, 0, 0, time.UTC), time.Time{}, time.Time{}, 300)
	if err != nil {
		t.Fatal(err)
	}
	// The served clock runs fast: positive rates; the applied part still
	// rises from 0 to 1 s, quadratic-17h from 2 s before the leap.
	for _, p := range c.Panels[2:] {
		for _, s := range p.Series {
			for _, pt := range s.Points {
				if pt.Value < 0 {
					t.Fatalf("%s: rate %g ppm for a deleted second", s.Name, pt.Value)
				}
			}
		}
	}
	q := series(t, c.Panels[0], "quadratic-17h")
	leapAt := time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC)
	for _, pt := range q.Points {
		if pt.At.Before(leapAt.Add(-2*time.Second)) && pt.Value != 0 {
			t.Errorf("quadratic-17h applied %g s at %v", pt.Value, pt.At)
		}
	}
	if !strings.Contains(c.Title, "deleted") {
		t.Errorf("title %q", c.Title)
	}
}

func TestChartPNGAndMarker(t *testing.T) {
	table := table2016()
	c, err := PolicyCurves(presetSmears(t, table)[1:2], time.Date(2016, 12, 31, 0, 0, 0, 0, time.UTC), time.Time{}, time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Panels) != 3 {
		t.Errorf("%d panels for one policy, want 3", len(c.Panels))
	}
	c.Marker, c.MarkerLabel = time.Date(2016, 12, 31, 18, 0, 0, 0, time.UTC), "now"
	var buf bytes.Buffer
	if err := c.Write(&buf, PNG); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 300 {
		t.Errorf("PNG is %v", b)
	}
	if err := c.Write(io.Discard, "gif"); err == nil {
		t.Error("unknown format accepted")
	}
}

// TestLegendBesideTheCurves draws charts on a recording canvas: every line
// (curves, axes, grid) lies left of every legend entry's text, so the
// legend cannot hide a curve.
func TestLegendBesideTheCurves(t *testing.T) {
	full, err := PolicyCurves(presetSmears(t, table2016()), time.Date(2016, 12, 31, 0, 0, 0, 0, time.UTC), time.Time{}, time.Time{}, 200)
	if err != nil {
		t.Fatal(err)
	}
	one, err := PolicyCurves(presetSmears(t, table2016())[4:5], time.Date(2016, 12, 31, 0, 0, 0, 0, time.UTC), time.Time{}, time.Time{}, 200)
	if err != nil {
		t.Fatal(err)
	}
	one.Marker, one.MarkerLabel = time.Date(2017, 1, 1, 3, 0, 0, 0, time.UTC), "now"
	one.Width, one.Height = 6*vg.Inch, 5*vg.Inch
	for _, c := range []Chart{full, one} {
		names := map[string]bool{}
		if c.MarkerLabel != "" {
			names[c.MarkerLabel] = true
		}
		for _, p := range c.Panels {
			for _, s := range p.Series {
				names[s.Name] = true
			}
		}
		var rec recorder.Canvas
		w, h := c.size()
		if err := c.draw(draw.NewCanvas(&rec, w, h)); err != nil {
			t.Fatal(err)
		}
		rightmostLine, leftmostLegend := vg.Length(math.Inf(-1)), vg.Length(math.Inf(1))
		legend := 0
		for _, a := range rec.Actions {
			switch a := a.(type) {
			case *recorder.Stroke:
				xs := []vg.Length{}
				for _, pc := range a.Path {
					xs = append(xs, pc.Pos.X)
				}
				// A legend sample is a short line: 20 pt.
				if len(xs) == 2 && xs[1]-xs[0] == vg.Points(20) {
					continue
				}
				rightmostLine = max(rightmostLine, slices.Max(xs))
			case *recorder.FillString:
				if names[a.String] {
					legend++
					leftmostLegend = min(leftmostLegend, a.Point.X)
				}
			}
		}
		if legend != len(names) {
			t.Errorf("%q: %d legend entries drawn, want %d", c.Title, legend, len(names))
		}
		if rightmostLine >= leftmostLegend {
			t.Errorf("%q: lines reach x = %v, the legend starts at x = %v", c.Title, rightmostLine, leftmostLegend)
		}
		if leftmostLegend > w {
			t.Errorf("%q: legend at x = %v, off the %v wide picture", c.Title, leftmostLegend, w)
		}
	}
}

func TestTicks(t *testing.T) {
	day := float64(time.Date(2016, 12, 31, 0, 0, 0, 0, time.UTC).Unix())
	cases := []struct {
		lo, hi float64
		want   []string
	}{
		{day - 3600, day + 86400 + 3600, []string{"Dec 31", "06:00", "12:00", "18:00", "Jan 1"}},
		{day + 86400 - 90, day + 86400 + 30, []string{"23:58:30", "23:59:00", "23:59:30", "Jan 1", "00:00:30"}},
		{day + 600, day + 3000, []string{"00:10", "00:15", "00:20", "00:25", "00:30", "00:35", "00:40", "00:45", "00:50"}},
		{day - 86400, day + 5*86400, []string{"Dec 30", "Dec 31", "Jan 1", "Jan 2", "Jan 3", "Jan 4", "Jan 5"}},
	}
	for _, c := range cases {
		var got []string
		for _, tk := range (timeTicks{}).Ticks(c.lo, c.hi) {
			if tk.Label != "" {
				got = append(got, tk.Label)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("time ticks over [%v, %v]: %q, want %q", time.Unix(int64(c.lo), 0).UTC(), time.Unix(int64(c.hi), 0).UTC(), got, c.want)
		}
	}
	nums := []struct {
		lo, hi float64
		want   []string
	}{
		{-1060, 1060, []string{"-1000", "-500", "0", "500", "1000"}},
		{-0.06, 1.06, []string{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}},
		{-0.13, 0.13, []string{"-0.10", "-0.05", "0.00", "0.05", "0.10"}},
		{-530, 30, []string{"-500", "-400", "-300", "-200", "-100", "0"}},
		{-0.26, 0.78, []string{"-0.2", "0.0", "0.2", "0.4", "0.6"}},
	}
	for _, c := range nums {
		var got []string
		for _, tk := range (numberTicks{}).Ticks(c.lo, c.hi) {
			if tk.Label != "" {
				got = append(got, tk.Label)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("number ticks over [%v, %v]: %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
}

func TestFormats(t *testing.T) {
	for name, want := range map[string]Format{"a.svg": SVG, "b.PNG": PNG, "/x/c.d.png": PNG} {
		if f, err := FormatOf(name); err != nil || f != want {
			t.Errorf("FormatOf(%q) = %q, %v; want %q", name, f, err, want)
		}
	}
	for name, words := range map[string]string{"x.jpg": "not .jpg", "x": "no extension", "x.svgz": "not .svgz"} {
		if _, err := FormatOf(name); err == nil || !strings.Contains(err.Error(), words) {
			t.Errorf("FormatOf(%q): %v, want an error saying %q", name, err, words)
		}
	}
	if f, err := ParseFormat("PNG"); err != nil || f != PNG {
		t.Errorf("ParseFormat(PNG) = %q, %v", f, err)
	}
	if _, err := ParseFormat("jpeg"); err == nil {
		t.Error("ParseFormat(jpeg) accepted")
	}
}

func TestPolicyCurvesNoSuchLeap(t *testing.T) {
	_, err := PolicyCurves(presetSmears(t, table2016()), time.Date(2016, 6, 30, 0, 0, 0, 0, time.UTC), time.Time{}, time.Time{}, 10)
	if err == nil || !strings.Contains(err.Error(), "2016-06-30") {
		t.Errorf("want an error naming the day, got %v", err)
	}
}

// TestTitlesFit: a panel title longer than the picture is wide (a watch
// naming servers drawn from their first difference) is wrapped between
// words: every text drawn lies within the picture.
func TestTitlesFit(t *testing.T) {
	at := time.Date(2016, 12, 31, 23, 59, 0, 0, time.UTC)
	pts := []Point{{At: at, Value: 0}, {At: at.Add(time.Minute), Value: -1000}}
	c := Chart{Title: "leapsmear watch: 3 server(s), every 250ms", Width: 6 * vg.Inch, Height: 4 * vg.Inch, Panels: []Panel{{
		Title:  "Offset of each server from 2001:db8::1 at the same instant\ndrawn less their first difference: 2001:db8::2 -312846447.867 s, 2001:db8::3 -312824877.625 s (other times, such as replays)",
		YLabel: "difference (ms)",
		Series: []Series{{Name: "2001:db8::2: smear", Points: pts}, {Name: "2001:db8::3: step", Points: pts}},
	}}}
	var rec recorder.Canvas
	w, h := c.size()
	if err := c.draw(draw.NewCanvas(&rec, w, h)); err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, a := range rec.Actions {
		s, ok := a.(*recorder.FillString)
		if !ok {
			continue
		}
		if strings.Contains(s.String, "first difference") || strings.Contains(s.String, "such as replays") {
			lines++
		}
		width := textStyle(s.Font, s.Size).Width(s.String)
		if s.Point.X < 0 || s.Point.X+width > w {
			t.Errorf("%q drawn from x = %v to %v, outside the %v wide picture", s.String, s.Point.X, s.Point.X+width, w)
		}
	}
	if lines < 2 {
		t.Errorf("the second line of the title drawn on %d line(s), want it wrapped", lines)
	}
}
