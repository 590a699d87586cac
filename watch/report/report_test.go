package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/textfmt"
	"github.com/leapsmear/leapsmear/plot"
	"github.com/leapsmear/leapsmear/watch"
)

func summarize(rec *watch.Record) watch.Summary {
	return watch.Summarize(rec, watch.Options{Leap: leapAt}, watch.SpreadOptions{})
}

// TestSummaryJSONContract: the keys scripts rely on.
func TestSummaryJSONContract(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, watch.Summarize(rehearsalRecord(), watch.Options{}, watch.SpreadOptions{})); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Servers []map[string]any `json:"servers"`
		Spread  *float64         `json:"spread_ns"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Spread == nil || len(doc.Servers) != 3 {
		t.Fatalf("%s", buf.Bytes())
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

// TestJSONValues: every key holds what the summary found, with instants in
// RFC 3339 and lengths in nanoseconds.
func TestJSONValues(t *testing.T) {
	rec := rehearsalRecord()
	sum := summarize(rec)
	j := NewJSON(sum)
	if j.Rounds != 321 || j.EveryNs != int64(250*time.Millisecond) || j.Start != "2030-06-30T23:59:20.000000000Z" ||
		j.End != "2030-07-01T00:00:40.000000000Z" || j.SpreadNs == nil || *j.SpreadNs != int64(sum.Spread.Max) ||
		j.SpreadRounds != sum.Spread.Rounds || j.SpreadAt != textfmt.Time(sum.Spread.At) || !slices.Equal(j.SpreadBetween, []string{"a", "c"}) {
		t.Errorf("header: %+v", j)
	}
	for i, s := range j.Servers {
		ss := sum.Servers[i]
		if s.Server != ss.Server || s.Address != rec.Addrs[i] || s.Class != string(ss.Class) || s.Shape != ss.Shape || s.Policy != ss.Policy ||
			s.Preset != ss.Preset || s.TotalOffsetNs == nil || *s.TotalOffsetNs != int64(ss.TotalOffset) ||
			s.MaxRatePPM == nil || *s.MaxRatePPM != ss.MaxRatePPM || s.MaxOffsetNs == nil || *s.MaxOffsetNs != int64(ss.MaxOffset) ||
			s.Leap != "2030-07-01T00:00:00.000000000Z" || s.WindowStart != textfmt.Time(ss.Start) || s.WindowEnd != textfmt.Time(ss.End) ||
			s.Complete != ss.Complete || s.Residual != ss.Residual || s.Answered != ss.Answered || s.Lost != ss.Lost {
			t.Errorf("server %d: %+v, summary %+v", i, s, ss)
		}
	}
	if !slices.Equal(j.Servers[0].LeapIndicators, []int{1}) || j.Servers[2].Error != errTest.Error() || j.Servers[0].Error != "" {
		t.Errorf("leap indicators %v, errors %q %q", j.Servers[0].LeapIndicators, j.Servers[0].Error, j.Servers[2].Error)
	}
}

// TestJSONNotMeasured: what was not measured is null, not a zero: the total
// offset and rate of a server that never answered, the spread of a watch
// that compared no two servers.
func TestJSONNotMeasured(t *testing.T) {
	rec := record(0, stepping(1), smearing(1, linear, -30*time.Second, time.Minute))
	for k := range rec.Rounds {
		rec.Rounds[k].Samples[0] = watch.Sample{Err: errTest}
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, summarize(rec)); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Servers []map[string]any `json:"servers"`
		Spread  any              `json:"spread_ns"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	silent, good := doc.Servers[0], doc.Servers[1]
	for _, key := range []string{"total_offset_ns", "max_rate_ppm"} {
		if v, ok := silent[key]; !ok || v != nil {
			t.Errorf("silent server: %q is %v (present %v), want null", key, v, ok)
		}
		if _, isNum := good[key].(float64); !isNum {
			t.Errorf("good server: %q is %v", key, good[key])
		}
	}
	if silent["class"] != "unknown" || silent["answered"] != 0.0 || silent["lost"] != 321.0 || silent["error"] != errTest.Error() {
		t.Errorf("silent server: %v", silent)
	}
	if _, ok := silent["max_offset_ns"]; ok {
		t.Errorf("silent server has a max_offset_ns: %v", silent)
	}
	if doc.Spread != nil || strings.Contains(buf.String(), "spread_between") {
		t.Errorf("spread of one answering server: %v\n%s", doc.Spread, buf.String())
	}
}

func TestWriteCSV(t *testing.T) {
	rec := rehearsalRecord()
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rec, watch.SpreadOptions{}); err != nil {
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
		if row[3] != rec.Addrs[i] || row[1] != textfmt.Time(rec.Rounds[k].At) {
			t.Fatalf("row %v", row)
		}
		if !s.Answered {
			if row[4] != "0" || row[6] != "" || row[8] != "" || row[11] != errTest.Error() {
				t.Fatalf("unanswered row %v", row)
			}
			continue
		}
		if row[4] != "1" || row[5] != textfmt.Time(s.At) || row[6] != strconv.FormatInt(int64(s.Offset), 10) ||
			row[7] != strconv.FormatInt(int64(s.Delay), 10) || row[9] != strconv.Itoa(int(s.Leap)) || row[11] != "" {
			t.Fatalf("row %v for %+v", row, s)
		}
		if i == 0 && row[8] != "0" {
			t.Fatalf("reference's relative offset %q", row[8])
		}
	}
}

// TestCSVRounds: rows written round by round are, at every moment, a valid
// CSV file of every round so far: WriteCSV's rows without relative_ns.
func TestCSVRounds(t *testing.T) {
	rec := rehearsalRecord()
	var whole bytes.Buffer
	if err := WriteCSV(&whole, rec, watch.SpreadOptions{}); err != nil {
		t.Fatal(err)
	}
	want, err := csv.NewReader(&whole).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	c, err := NewCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != strings.Join(csvHeader, ",")+"\n" {
		t.Fatalf("before any round: %q", buf.String())
	}
	for k := range rec.Rounds {
		if err := c.WriteRound(rec, k); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
		if err != nil || len(rows) != 1+3*(k+1) {
			t.Fatalf("after round %d: %d rows, %v", k, len(rows), err)
		}
		for r := 1 + 3*k; r < len(rows); r++ {
			w := slices.Clone(want[r])
			w[8] = ""
			if !slices.Equal(rows[r], w) {
				t.Fatalf("row %d: %q, want %q", r, rows[r], w)
			}
		}
	}
}

func TestChart(t *testing.T) {
	rec := rehearsalRecord()
	c := Chart(rec, summarize(rec), watch.SpreadOptions{})
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
	if c.Panels[0].YLabel != "change since the first answer (ms)" {
		t.Errorf("offset panel: %q", c.Panels[0].YLabel)
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
	one := &watch.Record{Servers: rec.Servers[:1], Every: rec.Every}
	for _, rd := range rec.Rounds {
		one.Rounds = append(one.Rounds, watch.Round{At: rd.At, Samples: rd.Samples[:1]})
	}
	if c := Chart(one, summarize(one), watch.SpreadOptions{}); len(c.Panels) != 1 {
		t.Errorf("one server: %d panels", len(c.Panels))
	}
}

// TestChartFromFirstAnswer: each server's line starts at 0 and shows the
// change of its offset, so that a server replaying a leap of 2016 (its
// offset -312807386.2029 s from the watcher's clock) is drawn on the same
// scale as one that is not: from 0 to -1000 ms, like the other. In the
// relative panel, too, the replaying server is drawn from its first
// difference, which the title states: its smear against the other's step
// reads in milliseconds, not as years of milliseconds (3e11) that no tick
// label holds.
func TestChartFromFirstAnswer(t *testing.T) {
	const replay = -312807386202900 * time.Microsecond
	lin := smearing(1, linear, -30*time.Second, time.Minute)
	rec := record(0, stepping(1), plus(lin, replay))
	c := Chart(rec, summarize(rec), watch.SpreadOptions{})
	for i, s := range c.Panels[0].Series {
		first, last := s.Points[0].Value, s.Points[len(s.Points)-1].Value
		if first != 0 || last < -1000.001 || last > -999.999 {
			t.Errorf("server %d drawn from %v ms to %v ms, want 0 to -1000", i, first, last)
		}
		for _, p := range s.Points {
			if p.Value > 0.001 || p.Value < -1000.001 {
				t.Fatalf("server %d drawn at %v ms", i, p.Value)
			}
		}
	}
	// The relative panel: b's linear smear minus a's step, from 0 down to
	// -500 ms just before the leap, +500 ms just after, back to 0.
	rel := c.Panels[1]
	if rel.YLabel != "difference (ms)" || !strings.HasSuffix(rel.Title, "\nb drawn less its first difference, -312807386.203 s (another time, such as a replay)") {
		t.Errorf("relative panel: title %q, label %q", rel.Title, rel.YLabel)
	}
	lo, hi := 0.0, 0.0
	for _, p := range rel.Series[1].Points {
		lo, hi = min(lo, p.Value), max(hi, p.Value)
	}
	if first := rel.Series[1].Points[0].Value; first != 0 || lo > -490 || lo < -500.001 || hi < 490 || hi > 500.001 {
		t.Errorf("replaying server drawn from %v ms, within %v..%v ms; want 0, within -500..500", first, lo, hi)
	}
	for _, p := range rel.Series[0].Points {
		if p.Value != 0 {
			t.Fatalf("the reference drawn at %v ms", p.Value)
		}
	}
	var buf bytes.Buffer
	if err := c.Write(&buf, plot.SVG); err != nil {
		t.Fatal(err)
	}
	if svg := buf.String(); strings.Contains(svg, "00000000") || !strings.Contains(svg, "-312807386.203 s") {
		t.Errorf("the SVG has labels of the years apart, or lacks the first difference")
	}

	// A server a minute or less off (here TAI instead of UTC) disagrees
	// about the time: drawn as far as it is.
	rec = record(0, lin, plus(lin, 37*time.Second))
	rel = Chart(rec, summarize(rec), watch.SpreadOptions{}).Panels[1]
	if strings.Contains(rel.Title, "\n") {
		t.Errorf("title %q", rel.Title)
	}
	for _, p := range rel.Series[1].Points {
		if p.Value < 36999.999 || p.Value > 37000.001 {
			t.Fatalf("a server 37 s off drawn at %v ms", p.Value)
		}
	}
}

// TestChartMicroseconds: a fleet that agrees is drawn in microseconds, and
// so are offsets that hardly change.
func TestChartMicroseconds(t *testing.T) {
	q := smearing(1, quadratic, -30*time.Second, time.Minute)
	rec := record(0, q, q, plus(q, 40*time.Microsecond))
	c := Chart(rec, summarize(rec), watch.SpreadOptions{})
	if c.Panels[1].YLabel != "difference (µs)" {
		t.Fatalf("label %q", c.Panels[1].YLabel)
	}
	for _, p := range c.Panels[1].Series[2].Points {
		if p.Value < 39.9 || p.Value > 40.1 {
			t.Fatalf("server c drawn at %v us, want 40", p.Value)
		}
	}
	flat := record(0, plus(stepping(0), time.Hour), plus(stepping(0), 500*time.Microsecond))
	if c := Chart(flat, summarize(flat), watch.SpreadOptions{}); c.Panels[0].YLabel != "change since the first answer (µs)" {
		t.Errorf("flat offsets: %q", c.Panels[0].YLabel)
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

func TestWriteText(t *testing.T) {
	rec := rehearsalRecord()
	var buf bytes.Buffer
	if err := WriteText(&buf, summarize(rec)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"watched 2030-06-30T23:59:20.000000000Z to 2030-07-01T00:00:40.000000000Z: 321 rounds every 250ms\n",
		"SERVER  CLASS  SHAPE   POLICY",
		"\na       step   step    step  ",
		"between 23:59:59.750 and 00:00:00.000",
		"23:59:30.000 to 00:00:30.000 (1m0s)",
		" +1.000000000 s ", " -1.000000000 s ", "(a jump)", " ppm ", "321/321", "289/321",
		"fleet spread: 2.000", "between a and c\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// A server that never answered: "no answer", not a total of 0 s; one
	// watched alone: no spread.
	silent := record(0, stepping(1))
	for k := range silent.Rounds {
		silent.Rounds[k].Samples[0] = watch.Sample{Err: errTest}
	}
	buf.Reset()
	if err := WriteText(&buf, summarize(silent)); err != nil {
		t.Fatal(err)
	}
	out = buf.String()
	if !strings.Contains(out, "unknown  -      -       -             no answer     -         -               0/321") ||
		strings.Contains(out, "0.000000000 s") || !strings.Contains(out, "fleet spread: no round compared two servers") {
		t.Errorf("silent server:\n%s", out)
	}
}
