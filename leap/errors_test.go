package leap

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestParseErrorsKeepCause: the parsers' errors say what is wrong in words
// and keep the cause for errors.Is and errors.As: strconv.ErrSyntax for
// what is not a number, strconv.ErrRange for a number too long,
// ErrOutOfRange for an instant outside the span of leap tables, strconv's
// *NumError for a checksum word and time's *ParseError for an instant.
func TestParseErrorsKeepCause(t *testing.T) {
	const head = "#$\t3960835200\n#@\t3991593600\n2272060800\t10\t# 1 Jan 1972\n"
	const leapLine = "Leap 1972 Jun 30 23:59:60 + S\n"
	iers := func(text string) error {
		_, err := parseIERS(t, []byte(text), ParseOptions{AcceptUnverified: true})
		return err
	}
	tzdata := func(text string) error {
		_, err := parseTZData(text)
		return err
	}
	for _, c := range []struct {
		name  string
		err   error
		cause error
	}{
		{"iers letters", iers(head + "22877856OO 11\n"), strconv.ErrSyntax},
		{"iers long number", iers(head + "228778560000000 11\n"), strconv.ErrRange},
		{"iers before 1972", iers(head + "2208988800 11\n"), ErrOutOfRange},
		{"iers #@ letters", iers("#@ soon\n" + head[len("#$\t3960835200\n#@\t3991593600\n"):]), strconv.ErrSyntax},
		{"iers #$ after 2200", iers("#$ 9999999999\n"), ErrOutOfRange},
		{"iers TAI-UTC signed", iers(head + "2287785600 +11\n"), strconv.ErrSyntax},
		{"iers #h not hex", iers(head + "#h 1 2 3 4 xyz\n"), strconv.ErrSyntax},
		{"tzdata #expires letters", tzdata(leapLine + "#expires soon\n"), strconv.ErrSyntax},
		{"tzdata #updated before 1972", tzdata(leapLine + "#updated 100\n"), ErrOutOfRange},
		{"tzdata year 1971", tzdata("Leap 1971 Dec 31 23:59:60 + S\n"), ErrOutOfRange},
		{"tzdata year letters", tzdata("Leap 19x2 Dec 31 23:59:60 + S\n"), strconv.ErrSyntax},
		{"tzdata day 31 June", tzdata("Leap 1972 Jun 31 23:59:60 + S\n"), strconv.ErrRange},
		{"tzdata time 23:61", tzdata("Leap 1972 Jun 30 23:61:00 + S\n"), strconv.ErrRange},
		{"tzdata expires after 2200", tzdata(leapLine + "#expires 9999999999\n"), ErrOutOfRange},
	} {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		var pe *ParseError
		if !errors.Is(c.err, c.cause) || !errors.As(c.err, &pe) || pe.Line == 0 {
			t.Errorf("%s: %v: want a ParseError naming its line with the cause %v", c.name, c.err, c.cause)
		}
		if strings.Contains(c.err.Error(), "strconv") || strings.Contains(c.err.Error(), "invalid syntax") {
			t.Errorf("%s: %q shows Go internals", c.name, c.err)
		}
	}
	var ne *strconv.NumError
	if err := iers(head + "#h 1 2 3 4 xyz\n"); !errors.As(err, &ne) || ne.Num != "xyz" {
		t.Errorf("#h word: %v: want strconv's *NumError in the chain", err)
	}

	if _, err := ParseLabel("2300-01-01T00:00:00Z"); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("ParseLabel after 2200: %v, want ErrOutOfRange", err)
	}
	if _, err := Default().WithRehearsal(time.Date(2200, 6, 1, 0, 0, 0, 0, time.UTC), 1); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("rehearsal after 2200: %v, want ErrOutOfRange", err)
	}
	var te *time.ParseError
	if _, err := ParseLabel("2016-12-31T23:59:60"); !errors.As(err, &te) {
		t.Errorf("ParseLabel without a zone: %v: want time's *ParseError in the chain", err)
	}
}

// TestParseInstant: every instant a command takes is read here, and a
// mistake is said in words: a missing zone as such, with an example; never
// time's layout ("Z07:00").
func TestParseInstant(t *testing.T) {
	for s, want := range map[string]time.Time{
		"2026-11-23T15:00:00Z":        time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC),
		"2026-11-23T16:00:00.5+01:00": time.Date(2026, 11, 23, 15, 0, 0, 5e8, time.UTC),
	} {
		if at, err := ParseInstant(s); err != nil || !at.Equal(want) {
			t.Errorf("ParseInstant(%q) = %v, %v; want %v", s, at, err, want)
		}
	}
	const form = "want RFC 3339 with a zone (Z for UTC, or an offset such as +01:00), such as 2026-11-23T15:00:00Z"
	for s, want := range map[string]string{
		"2030-01-01T00:00:00":      `instant "2030-01-01T00:00:00" has no zone: ` + form,
		"2030-01-01T00:00:00.25":   `instant "2030-01-01T00:00:00.25" has no zone: ` + form,
		"2030-01-01 00:00:00Z":     `instant "2030-01-01 00:00:00Z": ` + form,
		"2030-01-01":               `instant "2030-01-01": ` + form,
		"tomorrow":                 `instant "tomorrow": ` + form,
		"":                         `instant "": ` + form,
		"2030-13-01T00:00:00Z":     `instant "2030-13-01T00:00:00Z": ` + form,
		"2030-01-01T00:00:00+0100": `instant "2030-01-01T00:00:00+0100": ` + form,
	} {
		_, err := ParseInstant(s)
		if err == nil || err.Error() != want {
			t.Errorf("ParseInstant(%q): %v\nwant %s", s, err, want)
		}
	}
	// The rehearsal and the label say the same, about what was typed.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, err := range []error{
		func() error { _, err := ParseRehearsal("2030-01-01T00:00:00,+1", now); return err }(),
		func() error { _, err := ParseLabel("2030-01-01T00:00:00"); return err }(),
	} {
		if err == nil || !strings.Contains(err.Error(), `instant "2030-01-01T00:00:00" has no zone: `+form) || strings.Contains(err.Error(), "Z07:00") {
			t.Errorf("%v: want the one wording of a missing zone", err)
		}
	}
	if _, err := ParseLabel("2016-12-31T23:59:60"); err == nil || !strings.Contains(err.Error(), `instant "2016-12-31T23:59:60" has no zone`) {
		t.Errorf("a label names what was typed (second 60): %v", err)
	}
	if _, err := ParseRehearsal("now+2x,+1", now); err == nil || strings.Contains(err.Error(), "time: ") || !strings.Contains(err.Error(), "now+2m") {
		t.Errorf("relative rehearsal: %v: want words and an example, not time's message", err)
	}
}

// TestParseBinary: a file whose first line is not text (a NUL byte, or
// bytes that are not UTF-8) is named as binary data in one line, never
// quoted back; text damaged further on is named by its line, the bytes
// escaped; a damaged TZif file is the TZif parser's to describe.
func TestParseBinary(t *testing.T) {
	const want = "leap file garbage: binary data: not a leap-seconds.list, a tzdata leapseconds file or a TZif right/ file"
	for name, data := range map[string][]byte{
		"NUL on line 1":       []byte("\x00\x01\x02garbage\n"),
		"not UTF-8 on line 1": []byte("\x8f\xff\xfe 11\n#\n"),
		"a PNG":               []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
	} {
		_, err := Parse(data, "garbage", ParseOptions{})
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v\nwant %s", name, err, want)
		}
	}
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"NUL on line 2":   {[]byte("#@\t3913056000\nnot a leap file\n\x00\x01"), "garbage line 2: "},
		"bytes on line 2": {[]byte("Leap 1972 Jun 30 23:59:60 + S\n\xc3\x28 x\n"), `garbage line 2: want a Leap or Expires line, found "\xc3("`},
	} {
		_, err := Parse(c.data, "garbage", ParseOptions{})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || !utf8.ValidString(err.Error()) || strings.ContainsRune(err.Error(), 0) {
			t.Errorf("%s: %q, want a line error starting %q, escaped", name, err, c.want)
		}
	}
	tzif := readTestdata(t, "right_UTC")
	if _, err := Parse(tzif[:500], "right_UTC", ParseOptions{}); err == nil || strings.Contains(err.Error(), "binary data") {
		t.Errorf("a truncated TZif file: %v, want the TZif parser's words", err)
	}
}
