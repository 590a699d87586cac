package watch

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/plot"
	"github.com/leapsmear/leapsmear/smear"
)

// rehearsalRecord is a watch of a step, a linear smear and a deleted second
// around leapAt, with server c missing every tenth round.
func rehearsalRecord(t *testing.T) *Record {
	f := fleet{smears: []*smear.Smear{mustSmear(t, "step", 1), mustSmear(t, "linear:-30s:1m", 1), mustSmear(t, "cosine:-30s:1m", -1)},
		offsets: make([]time.Duration, 3), jitter: 200 * time.Microsecond}
	rec := f.record(leapAt.Add(-40*time.Second), leapAt.Add(40*time.Second))
	rec.Addrs = []string{"192.0.2.1:123", "192.0.2.2:123", "192.0.2.3:123"}
	for k := range rec.Rounds {
		rec.Rounds[k].Samples[0].Leap = 1
		if k%10 == 3 {
			rec.Rounds[k].Samples[2] = Sample{Err: errTest}
		}
	}
	return rec
}

func TestSummarize(t *testing.T) {
	rec := rehearsalRecord(t)
	sum := Summarize(rec, Options{Leap: leapAt}, SpreadOptions{})
	if sum.Rounds != 321 || sum.EveryNs != int64(250*time.Millisecond) || sum.Start != "2030-06-30T23:59:20.000000000Z" || sum.End != "2030-07-01T00:00:40.000000000Z" {
		t.Errorf("summary header: %+v", sum)
	}
	want := []struct {
		class, shape, policy string
		total                int64
		answered, lost       int
		lis                  []int
	}{
		{"step", "step", "step", 1e9, 321, 0, []int{1}},
		{"smear", "linear", "linear:-30s:1m0s", 1e9, 321, 0, []int{0}},
		{"smear", "cosine", "cosine:-30s:1m0s", -1e9, 289, 32, []int{0}},
	}
	for i, w := range want {
		s := sum.Servers[i]
		if s.Server != rec.Servers[i] || s.Address != rec.Addrs[i] || s.Class != w.class || s.Shape != w.shape || s.Policy != w.policy ||
			!within(time.Duration(s.TotalOffsetNs), time.Duration(w.total), time.Microsecond) || s.Answered != w.answered || s.Lost != w.lost ||
			len(s.LeapIndicators) != len(w.lis) || s.LeapIndicators[0] != w.lis[0] || s.MaxOffsetNs == nil || !s.Complete {
			t.Errorf("server %d: %+v, want %+v", i, s, w)
		}
	}
	if sum.Servers[2].Error != errTest.Error() {
		t.Errorf("error of server c: %q", sum.Servers[2].Error)
	}
	// At the end the two that inserted a second are 2 s from the one that
	// deleted it.
	if !within(time.Duration(sum.SpreadNs), 2*time.Second, time.Microsecond) || len(sum.SpreadBetween) != 2 || sum.SpreadBetween[1] != "c" {
		t.Errorf("spread %d between %v", sum.SpreadNs, sum.SpreadBetween)
	}
}

// TestSummaryJSONContract: the keys scripts rely on.
func TestSummaryJSONContract(t *testing.T) {
	b, err := json.Marshal(Summarize(rehearsalRecord(t), Options{}, SpreadOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Servers []map[string]any `json:"servers"`
		Spread  *float64         `json:"spread_ns"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Spread == nil || len(doc.Servers) != 3 {
		t.Fatalf("%s", b)
	}
	for _, s := range doc.Servers {
		for key, kind := range map[string]string{"server": "string", "class": "string", "shape": "string", "total_offset_ns": "number", "max_rate_ppm": "number"} {
			v, ok := s[key]
			if !ok {
				t.Errorf("key %q missing: %v", key, s)
				continue
			}
			if _, isNum := v.(float64); (kind == "number") != isNum {
				t.Errorf("key %q: %T, want a %s", key, v, kind)
			}
		}
		if c := s["class"]; c != "step" && c != "smear" && c != "none" {
			t.Errorf("class %v", c)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	rec := rehearsalRecord(t)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rec, SpreadOptions{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+len(rec.Rounds)*3 || strings.Join(rows[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	for _, row := range rows[1:] {
		k, _ := strconv.Atoi(row[0])
		i := int(row[2][0] - 'a')
		s := rec.Rounds[k].Samples[i]
		if row[3] != rec.Addrs[i] || row[1] != formatTime(rec.Rounds[k].At) {
			t.Fatalf("row %v", row)
		}
		if !s.Answered {
			if row[4] != "0" || row[6] != "" || row[8] != "" || row[11] != errTest.Error() {
				t.Fatalf("unanswered row %v", row)
			}
			continue
		}
		if row[4] != "1" || row[5] != formatTime(s.At) || row[6] != strconv.FormatInt(int64(s.Offset), 10) ||
			row[7] != strconv.FormatInt(int64(s.Delay), 10) || row[9] != strconv.Itoa(int(s.Leap)) || row[11] != "" {
			t.Fatalf("row %v for %+v", row, s)
		}
		if i == 0 && row[8] != "0" {
			t.Fatalf("reference's relative offset %q", row[8])
		}
	}
}

func TestChart(t *testing.T) {
	rec := rehearsalRecord(t)
	sum := Summarize(rec, Options{Leap: leapAt}, SpreadOptions{})
	c := Chart(rec, sum, SpreadOptions{})
	if len(c.Panels) != 2 || len(c.Panels[0].Series) != 3 || len(c.Panels[1].Series) != 3 {
		t.Fatalf("panels %+v", c.Panels)
	}
	names := []string{"a: step", "b: smear linear:-30s:1m0s", "c: smear cosine:-30s:1m0s"}
	for i, s := range c.Panels[0].Series {
		if s.Name != names[i] {
			t.Errorf("series %d named %q, want %q", i, s.Name, names[i])
		}
	}
	if n := len(c.Panels[0].Series[2].Points); n != 289 {
		t.Errorf("server c: %d points, want its 289 answers", n)
	}
	if c.Panels[1].YLabel != "difference (ms)" {
		t.Errorf("relative panel: %q: differences of seconds are in ms", c.Panels[1].YLabel)
	}
	var buf bytes.Buffer
	if err := c.Write(&buf, plot.SVG); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "a: step", "smear linear:-30s:1m0s"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	// One server: no relative panel.
	one := &Record{Servers: rec.Servers[:1], Every: rec.Every}
	for _, rd := range rec.Rounds {
		one.Rounds = append(one.Rounds, Round{At: rd.At, Samples: rd.Samples[:1]})
	}
	if c := Chart(one, Summarize(one, Options{}, SpreadOptions{}), SpreadOptions{}); len(c.Panels) != 1 {
		t.Errorf("one server: %d panels", len(c.Panels))
	}
}

// TestChartMicroseconds: a fleet that agrees is drawn in microseconds.
func TestChartMicroseconds(t *testing.T) {
	smears, offsets := same(t, "quadratic:-30s:1m", 3)
	offsets[2] = 40 * time.Microsecond
	rec := fleet{smears: smears, offsets: offsets}.record(leapAt.Add(-40*time.Second), leapAt.Add(40*time.Second))
	c := Chart(rec, Summarize(rec, Options{}, SpreadOptions{}), SpreadOptions{})
	if c.Panels[1].YLabel != "difference (µs)" {
		t.Fatalf("label %q", c.Panels[1].YLabel)
	}
	for _, p := range c.Panels[1].Series[2].Points {
		if p.Value < 39.9 || p.Value > 40.1 {
			t.Fatalf("server c drawn at %v us, want 40", p.Value)
		}
	}
}

// TestDecimate: long series keep their extremes in order, within the bound.
func TestDecimate(t *testing.T) {
	pts := make([]plot.Point, 100_001)
	for i := range pts {
		pts[i] = plot.Point{At: leapAt.Add(time.Duration(i) * time.Second), Value: float64(i % 1000)}
	}
	pts[54_321].Value = -5
	out := decimate(pts)
	if len(out) > maxChartPoints+2 || len(out) < maxChartPoints/2 {
		t.Fatalf("%d points", len(out))
	}
	found := false
	for i := range out {
		if i > 0 && !out[i].At.After(out[i-1].At) {
			t.Fatalf("out of order at %d", i)
		}
		found = found || out[i].Value == -5
	}
	if !found {
		t.Error("the outlier was dropped")
	}
	short := pts[:10]
	if got := decimate(short); len(got) != 10 {
		t.Errorf("short series changed: %d points", len(got))
	}
}
