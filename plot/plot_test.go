package plot

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"io"
	"strings"
	"testing"
	"time"

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

func TestPolicyCurvesSVG(t *testing.T) {
	table := table2016()
	c, err := PolicyCurves(presetSmears(t, table), time.Date(2016, 12, 31, 0, 0, 0, 0, time.UTC), time.Time{}, time.Time{}, 500)
	if err != nil {
		t.Fatal(err)
	}
	// The noon-to-noon offset reaches -500 ms just before the leap and +500
	// ms just after it (true UTC repeats a second), and its rate is -1/86401.
	var nn Series
	for _, s := range c.Panels[0].Series {
		if s.Name == "noon-to-noon" {
			nn = s
		}
	}
	lowest, highest := 0.0, 0.0
	for _, p := range nn.Points {
		lowest, highest = min(lowest, p.Value), max(highest, p.Value)
	}
	if lowest > -499.98 || lowest < -500 || highest < 499.99 || highest > 500.01 {
		t.Errorf("noon-to-noon offsets span [%f, %f] ms, want about [-500, 500]", lowest, highest)
	}
	var buf bytes.Buffer
	if err := c.Write(&buf, SVG); err != nil {
		t.Fatal(err)
	}
	svg := buf.String()
	for _, want := range append(smear.PresetNames(), "offset (ms)", "frequency offset (ppm)", "UTC", "2016-12-31") {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
}

func TestChartPNGAndMarker(t *testing.T) {
	table := table2016()
	c, err := PolicyCurves(presetSmears(t, table)[1:2], time.Date(2016, 12, 31, 0, 0, 0, 0, time.UTC), time.Time{}, time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
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

func TestPolicyCurvesNoSuchLeap(t *testing.T) {
	_, err := PolicyCurves(presetSmears(t, table2016()), time.Date(2016, 6, 30, 0, 0, 0, 0, time.UTC), time.Time{}, time.Time{}, 10)
	if err == nil || !strings.Contains(err.Error(), "2016-06-30") {
		t.Errorf("want an error naming the day, got %v", err)
	}
}
