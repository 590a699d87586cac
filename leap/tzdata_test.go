package leap

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func parseTZData(data string) (*Table, error) {
	return ParseTZData(strings.NewReader(data), "leapseconds")
}

func TestParseTZDataRealFiles(t *testing.T) {
	for _, c := range []struct {
		file             string
		updated, expires time.Time
	}{
		{"leapseconds", utc(2025, 7, 7), utc(2026, 6, 28)},
		{"leapseconds-2026f", time.Date(2026, 7, 6, 7, 44, 57, 0, time.UTC), utc(2027, 6, 28)},
	} {
		tb, err := ParseTZData(bytes.NewReader(readTestdata(t, c.file)), c.file)
		if err != nil {
			t.Fatal(err)
		}
		if tb.Verified || tb.Verification != "no checksum in this format" || tb.Format != FormatTZData {
			t.Errorf("%s: %v %q %q", c.file, tb.Verified, tb.Verification, tb.Format)
		}
		if !tb.Updated.Equal(c.updated) || !tb.Expires.Equal(c.expires) {
			t.Errorf("%s: updated %v expires %v", c.file, tb.Updated, tb.Expires)
		}
		sameEvents(t, c.file, tb.Events, goldenEvents(t))
	}
}

func TestParseTZDataNegative(t *testing.T) {
	tb, err := ParseTZData(bytes.NewReader(readTestdata(t, "leapseconds-negative")), "leapseconds-negative")
	if err != nil {
		t.Fatal(err)
	}
	want := table("", utc(1976, 12, 28),
		utc(1972, 7, 1), 1, utc(1973, 1, 1), 1, utc(1974, 1, 1), -1, utc(1975, 1, 1), 1,
		utc(1975, 7, 1), -1, utc(1975, 10, 1), -1, utc(1976, 4, 1), 1)
	sameEvents(t, "leapseconds-negative", tb.Events, want.Events)
	if !tb.Expires.Equal(want.Expires) || !tb.Updated.Equal(utc(1975, 1, 1)) {
		t.Errorf("expires %v updated %v", tb.Expires, tb.Updated)
	}
}

func TestParseTZDataRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 200 {
		want := randomTable(r)
		updated := utc(1972, 2, 1)
		tb, err := parseTZData(string(writeTZData(want, updated)))
		if err != nil {
			t.Fatal(err)
		}
		sameEvents(t, "tzdata", tb.Events, want.Events)
		if !tb.Expires.Equal(want.Expires) {
			t.Fatalf("expires %v, want %v", tb.Expires, want.Expires)
		}
	}
}

func TestParseTZDataSyntax(t *testing.T) {
	// Month names as zic reads them, an uncommented Expires line, CRLF.
	tb, err := parseTZData("Leap 1972 june 30 23:59:60 + Stationary\r\n" +
		"LEAP 1972 DECEMBER 31 23:59:60 + s # comment\r\n" +
		"  Leap\t1973\tDec\t31\t23:59:59\t-\tS\r\n" +
		"Expires 1974 Jun 28 00:00:00\r\n" +
		"#expires 141609600 (1974-06-28)\r\n")
	if err != nil {
		t.Fatal(err)
	}
	want := table("", utc(1974, 6, 28), utc(1972, 7, 1), 1, utc(1973, 1, 1), 1, utc(1974, 1, 1), -1)
	sameEvents(t, "syntax", tb.Events, want.Events)
	if !tb.Expires.Equal(want.Expires) || !tb.Updated.IsZero() {
		t.Errorf("expires %v updated %v", tb.Expires, tb.Updated)
	}
}

func TestParseTZDataErrors(t *testing.T) {
	const leap = "Leap 1972 Jun 30 23:59:60 + S\n"
	cases := []struct {
		name, text, want string
	}{
		{"empty", "", "leap file leapseconds: no Leap lines"},
		{"comments only", "# Leap 1972 Jun 30 23:59:60 + S\n", "no Leap lines"},
		{"rolling", "Leap 1972 Jun 30 23:59:60 + R\n", "line 1: rolling (local time) leap seconds are not supported"},
		{"bad R/S", "Leap 1972 Jun 30 23:59:60 + X\n", `line 1: "X": want S`},
		{"bad correction", "Leap 1972 Jun 30 23:59:60 * S\n", `line 1: correction "*": want + or -`},
		{"fields", "Leap 1972 Jun 30 23:59:60 +\n", "line 1: a Leap line has 7 fields"},
		{"month", leap + "Leap 1972 Foo 31 23:59:60 + S\n", `line 2: month "Foo"`},
		{"short month", "Leap 1972 Ju 30 23:59:60 + S\n", `line 1: month "Ju"`},
		{"day 31 June", "Leap 1972 Jun 31 23:59:60 + S\n", `line 1: day "31": want 1 to 30`},
		{"day 30 Feb", "Leap 1973 Feb 29 23:59:60 + S\n", `line 1: day "29": want 1 to 28`},
		{"year", "Leap 1971 Dec 31 23:59:60 + S\n", `line 1: year "1971"`},
		{"time", "Leap 1972 Jun 30 23:61:00 + S\n", `line 1: time "23:61:00"`},
		{"time format", "Leap 1972 Jun 30 23:59:60:00 + S\n", `line 1: time "23:59:60:00"`},
		{"midday", leap + "Leap 1972 Dec 31 12:00:00 + S\n", "line 2: event 2 (1972-12-31T12:00:00Z) does not take effect at 00:00:00 UTC on the first day of a month"},
		{"deleted at 60", "Leap 1972 Jun 30 23:59:60 - S\n", "line 1: event 1 (1972-07-01T00:00:01Z) does not take effect"},
		{"descending", "Leap 1972 Dec 31 23:59:60 + S\n" + leap, "line 2: event 2 (1972-07-01T00:00:00Z) is not after"},
		{"unknown line", leap + "Zone Etc/UTC 0 - UTC\n", `line 2: want a Leap or Expires line, found "Zone"`},
		{"expires fields", leap + "Expires 1973 Jun 28\n", "line 2: an Expires line has 5 fields"},
		{"two Expires", leap + "Expires 1973 Jun 28 00:00:00\nExpires 1973 Jun 28 00:00:00\n", "line 3: second Expires line; the first is line 2"},
		{"expires before event", leap + "Expires 1972 Jun 28 00:00:00\n", "expires 1972-06-28T00:00:00Z, not after its last event"},
		{"Expires and #expires differ", leap + "Expires 1973 Jun 28 00:00:00\n#expires 141609600\n", "line 3: the Expires line (1973-06-28T00:00:00Z) and the #expires line (1974-06-28T00:00:00Z) disagree"},
		{"two #expires", leap + "#expires 141609600\n#expires 141609600\n", "line 3: second #expires line"},
		{"two #updated", leap + "#updated 141609600\n#updated 141609600\n", "line 3: second #updated line"},
		{"#expires garbage", leap + "#expires soon\n", `line 2: #expires: POSIX timestamp "soon"`},
		{"#updated before 1972", leap + "#updated 100\n", "line 2: #updated: 1970-01-01T00:01:40Z is outside"},
	}
	for _, c := range cases {
		_, err := parseTZData(c.text)
		var pe *ParseError
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &pe) || pe.Source != "leapseconds" {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}
