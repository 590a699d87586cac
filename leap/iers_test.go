package leap

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

func parseIERS(t testing.TB, data []byte, opt ParseOptions) (*Table, error) {
	t.Helper()
	return ParseIERS(bytes.NewReader(data), "leap-seconds.list", opt)
}

func TestParseIERSRealFiles(t *testing.T) {
	for _, c := range []struct {
		file             string
		updated, expires time.Time
	}{
		// tzdata 2025b's copy, as installed on Debian 12 (expired 2026-06-28).
		{"leap-seconds.list", utc(2025, 7, 7), utc(2026, 6, 28)},
		// tzdata 2026b's copy.
		{"leap-seconds-2026b.list", time.Date(2026, 1, 6, 11, 14, 18, 0, time.UTC), utc(2026, 12, 28)},
		// The embedded one.
		{"../data/leap-seconds.list", time.Date(2026, 7, 6, 7, 44, 57, 0, time.UTC), utc(2027, 6, 28)},
	} {
		tb, err := parseIERS(t, readTestdata(t, c.file), ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !tb.Verified || tb.Verification != "SHA-1 checksum matched" || tb.Format != FormatIERS || tb.Base != 10 {
			t.Errorf("%s: verified %v (%s), format %q, base %d", c.file, tb.Verified, tb.Verification, tb.Format, tb.Base)
		}
		if !tb.Updated.Equal(c.updated) || !tb.Expires.Equal(c.expires) {
			t.Errorf("%s: updated %v expires %v, want %v %v", c.file, tb.Updated, tb.Expires, c.updated, c.expires)
		}
		sameEvents(t, c.file, tb.Events, goldenEvents(t))
	}
}

// dataLine matches the lines the checksum covers.
var dataLine = regexp.MustCompile(`^(#\$|#@|[0-9])`)

func TestChecksumCoversEveryDataDigit(t *testing.T) {
	orig := readTestdata(t, "leap-seconds.list")
	lines := strings.SplitAfter(string(orig), "\n")
	changed := 0
	for i, line := range lines {
		if !dataLine.MatchString(line) {
			continue
		}
		// Change each digit before any comment, one at a time.
		data, _, _ := strings.Cut(line, "#")
		if strings.HasPrefix(line, "#") {
			data = line
		}
		for j := range len(data) {
			c := line[j]
			if c < '0' || c > '9' {
				continue
			}
			mod := append([]string(nil), lines...)
			mod[i] = line[:j] + string('0'+(c-'0'+1)%10) + line[j+1:]
			_, err := parseIERS(t, []byte(strings.Join(mod, "")), ParseOptions{})
			var pe *ParseError
			if !errors.Is(err, ErrChecksum) || !errors.As(err, &pe) || pe.Line != 120 {
				t.Fatalf("line %d %q -> %q: got %v, want a checksum error at line 120", i+1, line, mod[i], err)
			}
			changed++
		}
	}
	if changed < 28*11 {
		t.Fatalf("only %d digits tried", changed)
	}
}

func TestChecksumIgnoresComments(t *testing.T) {
	orig := string(readTestdata(t, "leap-seconds.list"))
	for name, edit := range map[string]func(string) string{
		"comment line changed": func(s string) string {
			return strings.Replace(s, "#	File expires on 28 June 2026", "#	File expires on 29 June 2026", 1)
		},
		"trailing comment of a data line": func(s string) string {
			return strings.Replace(s, "# 1 Jan 2017", "# 1 January 2017, the last one", 1)
		},
		"comment lines added and removed": func(s string) string {
			return "# a new first line\n" + strings.Replace(s, "#	ATOMIC TIME\n", "", 1)
		},
		"whitespace": func(s string) string {
			return strings.ReplaceAll(s, "3692217600      37", "  3692217600 37  ")
		},
		"CRLF line endings": func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") },
		"blank lines":       func(s string) string { return strings.ReplaceAll(s, "\n#\n", "\n\n") },
	} {
		mod := edit(orig)
		if mod == orig {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		tb, err := parseIERS(t, []byte(mod), ParseOptions{})
		if err != nil || !tb.Verified || len(tb.Events) != 27 {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestChecksumMismatchAcceptedOnRequest(t *testing.T) {
	// 2012 -> 2013 keeps the table valid: only the checksum catches it.
	mod := bytes.Replace(readTestdata(t, "leap-seconds.list"), []byte("#$	3960835200"), []byte("#$	3960835201"), 1)
	if _, err := parseIERS(t, mod, ParseOptions{}); !errors.Is(err, ErrChecksum) ||
		!strings.HasPrefix(err.Error(), "leap-seconds.list line 120: SHA-1 checksum mismatch: the #h line says 49db2447571e5e1b2f002a539c8da8e439b8e49e") {
		t.Fatalf("got %v", err)
	}
	tb, err := parseIERS(t, mod, ParseOptions{AcceptUnverified: true})
	if err != nil || tb.Verified || tb.Verification != "checksum mismatch accepted by request" || len(tb.Events) != 27 {
		t.Fatalf("AcceptUnverified: %v %+v", err, tb)
	}
}

func TestTamperingReportedAsChecksumNotSymptom(t *testing.T) {
	// An invalid change is a checksum error first; with AcceptUnverified the
	// underlying fault shows.
	mod := bytes.Replace(readTestdata(t, "leap-seconds.list"), []byte("3692217600      37"), []byte("3692217600      38"), 1)
	if _, err := parseIERS(t, mod, ParseOptions{}); !errors.Is(err, ErrChecksum) {
		t.Fatalf("got %v, want a checksum error", err)
	}
	_, err := parseIERS(t, mod, ParseOptions{AcceptUnverified: true})
	if err == nil || err.Error() != "leap-seconds.list line 113: TAI-UTC goes from 36 to 38; a leap second changes it by exactly one" {
		t.Fatalf("got %v", err)
	}
}

// TestMissingHashLine: a list without its #h line (cut off at its end, or
// the line deleted) is refused, unless AcceptUnverified, which loads it as
// unverified. A list cut inside its data is refused for what the cut broke,
// even with AcceptUnverified.
func TestMissingHashLine(t *testing.T) {
	data := readTestdata(t, "leap-seconds.list")
	deleted := regexp.MustCompile(`(?m)^#h.*\n`).ReplaceAll(data, nil)
	cut := data[:bytes.Index(data, []byte("#h"))]
	for name, mod := range map[string][]byte{"#h line deleted": deleted, "cut before #h": cut, "cut inside #h": data[:len(cut)+1]} {
		if name == "cut inside #h" {
			// "#" alone is a comment: the #h line is gone.
			if !bytes.HasSuffix(mod, []byte("\n#")) {
				t.Fatalf("%s: ends %q", name, mod[len(mod)-4:])
			}
		}
		tb, err := parseIERS(t, mod, ParseOptions{})
		if !errors.Is(err, ErrNoChecksum) || tb != nil || err.Error() != "leap file leap-seconds.list: no #h checksum line: "+
			"the lists of the IERS and the IETF always carry one, so this one was cut short or edited" {
			t.Errorf("%s: %v %+v", name, err, tb)
		}
		tb, err = parseIERS(t, mod, ParseOptions{AcceptUnverified: true})
		if err != nil || tb.Verified || tb.Verification != "no #h checksum line accepted by request" || len(tb.Events) != 27 {
			t.Errorf("%s, AcceptUnverified: %v %+v", name, err, tb)
		}
	}
	inside := data[:bytes.Index(data, []byte("3692217600"))+5]
	for _, opt := range []ParseOptions{{}, {AcceptUnverified: true}} {
		if _, err := parseIERS(t, inside, opt); err == nil || errors.Is(err, ErrNoChecksum) || !strings.Contains(err.Error(), "line 113") {
			t.Errorf("cut inside the data, %+v: %v", opt, err)
		}
	}
}

func TestNISTStyleHashWithoutLeadingZeros(t *testing.T) {
	// No real file at hand has a hash word below 0x10000000, so build one:
	// try update stamps until the SHA-1 of the data has such a word, write
	// the words without leading zeros as NIST does, and parse it.
	base := negTable()
	found := false
	for i := range 200 {
		updated := utc(1974, 1, 2).Add(time.Duration(i) * time.Second)
		data := writeIERS(base, updated, "%x")
		hline := regexp.MustCompile(`#h\t(.*)\n`).FindSubmatch(data)[1]
		if !regexp.MustCompile(`(^| )[0-9a-f]{1,7}( |$)`).Match(hline) {
			continue
		}
		found = true
		tb, err := parseIERS(t, data, ParseOptions{})
		if err != nil || !tb.Verified || !tb.Updated.Equal(updated) {
			t.Fatalf("#h %s: %v", hline, err)
		}
		sameEvents(t, "NIST-style", tb.Events, base.Events)
		// The same file with zero-padded words verifies too.
		if tb, err := parseIERS(t, writeIERS(base, updated, "%08x"), ParseOptions{}); err != nil || !tb.Verified {
			t.Fatalf("zero-padded: %v", err)
		}
		break
	}
	if !found {
		t.Fatal("no short hash word in 200 tries")
	}
	// And the shipped example (built the same way from the 2025b file).
	data := readTestdata(t, "leap-seconds-nist-style.list")
	if !regexp.MustCompile(`(?m)^#h.*\s[0-9a-f]{1,7}(\s|$)`).Match(data) {
		t.Fatal("testdata/leap-seconds-nist-style.list has no short #h word")
	}
	tb, err := parseIERS(t, data, ParseOptions{})
	if err != nil || !tb.Verified {
		t.Fatalf("leap-seconds-nist-style.list: %v", err)
	}
	sameEvents(t, "leap-seconds-nist-style.list", tb.Events, goldenEvents(t))
}

func TestParseIERSNegativeAndRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	tables := []*Table{negTable()}
	for range 100 {
		tables = append(tables, randomTable(r))
	}
	for _, want := range tables {
		if want.Expires.IsZero() {
			want.Expires = want.Events[len(want.Events)-1].Effective.Add(time.Hour)
		}
		tb, err := parseIERS(t, writeIERS(want, utc(1972, 3, 1), "%08x"), ParseOptions{})
		if err != nil || !tb.Verified {
			t.Fatalf("%v", err)
		}
		sameEvents(t, "IERS", tb.Events, want.Events)
		if !tb.Expires.Equal(want.Expires) {
			t.Fatalf("expires %v, want %v", tb.Expires, want.Expires)
		}
	}
}

func TestParseIERSErrors(t *testing.T) {
	const head = "#$\t3960835200\n#@\t3991593600\n2272060800\t10\t# 1 Jan 1972\n"
	cases := []struct {
		name, text, want string
	}{
		{"empty", "", "leap file leap-seconds.list: no data lines"},
		{"comments only", "# nothing\n#\n", "leap file leap-seconds.list: no data lines"},
		{"three fields", head + "2287785600 11 12\n", "line 4: want an NTP timestamp and TAI-UTC"},
		{"one field", head + "2287785600\n", "line 4: want an NTP timestamp and TAI-UTC"},
		{"letters", head + "22877856OO 11\n", `line 4: NTP timestamp "22877856OO": want decimal digits only`},
		{"signed offset", head + "2287785600 +11\n", `line 4: TAI-UTC "+11"`},
		{"huge number", head + "228778560000000 11\n", "line 4: NTP timestamp"},
		{"before 1972", head + "2208988800 11\n", "line 4: NTP timestamp 2208988800: 1970-01-01T00:00:00Z is outside"},
		{"first not 1972", "2287785600 11\n", "line 1: the first data line is 1972-07-01T00:00:00Z TAI-UTC 11; want the 1972 base"},
		{"base not 10", "2272060800 11\n", "line 1: the first data line"},
		{"jump by two", head + "2287785600 12\n", "line 4: TAI-UTC goes from 10 to 12"},
		{"no change", head + "2287785600 10\n", "line 4: TAI-UTC goes from 10 to 10"},
		{"mid-month", head + "2287872000 11\n", "line 4: event 1 (1972-07-02T00:00:00Z) does not take effect at 00:00:00 UTC on the first day of a month"},
		{"descending", head + "2303683200 11\n2287785600 12\n", "line 5: event 2 (1972-07-01T00:00:00Z) is not after"},
		{"expiry before last event", "#@\t2287785600\n2272060800 10\n2303683200 11\n", "leap file leap-seconds.list: expires 1972-07-01T00:00:00Z, not after its last event 1973-01-01T00:00:00Z"},
		{"two #$", head + "#$ 3960835200\n", "line 4: second #$ (last update) line; the first is line 1"},
		{"two #@", head + "#@ 3991593600\n", "line 4: second #@ (expiry) line; the first is line 2"},
		{"#$ two numbers", "#$ 1 2\n", `line 1: #$ (last update) line: want one NTP timestamp, found "1 2"`},
		{"#@ empty", "#@\n", `line 1: #@ (expiry) line: want one NTP timestamp, found ""`},
		{"#h four words", head + "#h 1 2 3 4\n", "line 4: #h line: want five hexadecimal words, found 4"},
		{"#h not hex", head + "#h 1 2 3 4 xyz\n", `line 4: #h line: word "xyz" is not hexadecimal`},
		{"#h long word", head + "#h 1 2 3 4 123456789\n", `line 4: #h line: word "123456789" is longer than 8`},
		{"two #h", head + "#h 1 2 3 4 5\n#h 1 2 3 4 5\n", "line 5: second #h (checksum) line; the first is line 4"},
	}
	for _, c := range cases {
		_, err := parseIERS(t, []byte(c.text), ParseOptions{AcceptUnverified: true})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Source != "leap-seconds.list" {
			t.Errorf("%s: %T is not a ParseError naming the source", c.name, err)
		}
	}
}

func TestParseIERSSizeLimit(t *testing.T) {
	big := bytes.Repeat([]byte("#\n"), MaxFileSize/2+1)
	if _, err := parseIERS(t, big, ParseOptions{}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("got %v", err)
	}
}

func TestParseErrorFormat(t *testing.T) {
	inner := fmt.Errorf("bad")
	for _, c := range []struct {
		e    *ParseError
		want string
	}{
		{&ParseError{Source: "leap-seconds.list", Line: 17, Err: inner}, "leap-seconds.list line 17: bad"},
		{&ParseError{Source: "right/UTC", Err: inner}, "leap file right/UTC: bad"},
	} {
		if c.e.Error() != c.want || !errors.Is(c.e, inner) {
			t.Errorf("%q, want %q", c.e.Error(), c.want)
		}
	}
}
