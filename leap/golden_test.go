package leap

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"
)

// goldenEvents reads testdata/events.golden: the 27 leap seconds announced
// in IERS Bulletin C, written independently of every parser here.
func goldenEvents(t testing.TB) []Event {
	t.Helper()
	var evs []Event
	sc := bufio.NewScanner(bytes.NewReader(readTestdata(t, "events.golden")))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		var at string
		var e Event
		if _, err := fmt.Sscanf(line, "%s %d %d", &at, &e.TAIUTC, &e.Delta); err != nil {
			t.Fatalf("events.golden %q: %v", line, err)
		}
		var err error
		if e.Effective, err = time.Parse(time.RFC3339, at); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	if len(evs) != 27 {
		t.Fatalf("events.golden has %d events", len(evs))
	}
	return evs
}

// TestGoldenFormatsAgree parses the shipped copies of real files in each
// format and checks that all give the golden events.
func TestGoldenFormatsAgree(t *testing.T) {
	want := goldenEvents(t)
	for _, c := range []struct {
		file   string
		format Format
	}{
		{"leap-seconds.list", FormatIERS},
		{"leap-seconds-2026b.list", FormatIERS},
		{"leapseconds", FormatTZData},
		{"leapseconds-2026f", FormatTZData},
		{"right_UTC", FormatTZif},
		{"right_UTC-2026f", FormatTZif},
	} {
		tb, err := Parse(readTestdata(t, c.file), c.file, ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if tb.Format != c.format || tb.Source != c.file {
			t.Errorf("%s: format %q source %q", c.file, tb.Format, tb.Source)
		}
		sameEvents(t, c.file, tb.Events, want)
		if tb.OffsetAt(utc(2020, 1, 1)) != 37 || tb.OffsetAt(utc(1972, 6, 30)) != 10 {
			t.Errorf("%s: wrong offsets", c.file)
		}
	}
}

// TestSystemZoneinfo checks this machine's own tzdata files, when present:
// all three formats give identical events, and the checksum verifies.
func TestSystemZoneinfo(t *testing.T) {
	var tables []*Table
	for _, path := range []string{
		"/usr/share/zoneinfo/leap-seconds.list",
		"/usr/share/zoneinfo/leapseconds",
		"/usr/share/zoneinfo/right/UTC",
	} {
		data, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			t.Logf("%s: not installed", path)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		tb, err := Parse(data, path, ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if tb.Format == FormatIERS && !tb.Verified {
			t.Errorf("%s: checksum not verified", path)
		}
		tables = append(tables, tb)
	}
	if len(tables) == 0 {
		t.Skip("no tzdata leap-second files on this machine")
	}
	for _, tb := range tables[1:] {
		sameEvents(t, tb.Source+" vs "+tables[0].Source, tb.Events, tables[0].Events)
	}
	// Whatever the machine's tzdata release, the events up to 2017 are the
	// golden ones (a newer release could only add events after its time).
	want := goldenEvents(t)
	for _, tb := range tables {
		if len(tb.Events) < len(want) {
			t.Fatalf("%s: %d events", tb.Source, len(tb.Events))
		}
		sameEvents(t, tb.Source, tb.Events[:len(want)], want)
	}
}

func TestDetectFormat(t *testing.T) {
	for file, want := range map[string]Format{
		"leap-seconds.list":         FormatIERS,
		"leapseconds":               FormatTZData,
		"leapseconds-negative":      FormatTZData,
		"right_UTC":                 FormatTZif,
		"right_negative":            FormatTZif,
		"../data/leap-seconds.list": FormatIERS,
	} {
		if got := DetectFormat(readTestdata(t, file)); got != want {
			t.Errorf("%s: %q, want %q", file, got, want)
		}
	}
	if DetectFormat([]byte("  expires 2026 Jun 28 00:00:00\n")) != FormatTZData {
		t.Error("an Expires line alone is not tzdata")
	}
	if DetectFormat(nil) != FormatIERS {
		t.Error("empty input is not handed to the IERS parser")
	}
}

func TestDefault(t *testing.T) {
	d := Default()
	if !d.Verified || d.Source != DefaultSource || d.Format != FormatIERS {
		t.Fatalf("%+v", d)
	}
	if !d.Expires.Equal(utc(2027, 6, 28)) {
		t.Errorf("expires %v, want 2027-06-28", d.Expires)
	}
	sameEvents(t, "embedded", d.Events, goldenEvents(t))
	d.Events[0].TAIUTC = 0
	d.Source = "changed"
	if e := Default(); e.Events[0].TAIUTC != 11 || e.Source != DefaultSource {
		t.Error("Default does not return a fresh copy")
	}
}
