package leap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Format names the file format a table was read from.
type Format string

// The formats the parsers read.
const (
	// FormatIERS is the IETF/IERS leap-seconds.list (NTP seconds, SHA-1 checksum).
	FormatIERS Format = "leap-seconds.list"
	// FormatTZData is tzdata's leapseconds text file (Leap and Expires lines).
	FormatTZData Format = "tzdata leapseconds"
	// FormatTZif is a TZif (version 2 or later) binary file with leap records,
	// such as tzdata's right/UTC.
	FormatTZif Format = "TZif"
)

// HasChecksum reports whether the format carries its own integrity check.
// Tables of the other formats can only be corroborated (see Corroborate).
func (f Format) HasChecksum() bool { return f == FormatIERS }

// ParseOptions tune the parsers.
type ParseOptions struct {
	// AcceptUnverified makes a leap-seconds.list whose #h checksum does not
	// match its data, or that has no #h line, load anyway, as an unverified
	// table, instead of failing.
	AcceptUnverified bool
}

// ErrChecksum is wrapped by the error for a leap-seconds.list whose #h line
// does not match its data.
var ErrChecksum = errors.New("SHA-1 checksum mismatch")

// ErrNoChecksum is wrapped by the error for a leap-seconds.list without its
// #h checksum line. The lists of the IERS and the IETF always carry one, so
// a list without it was cut short or edited.
var ErrNoChecksum = errors.New("no #h checksum line")

// ErrOutOfRange is wrapped by the errors for an instant outside
// 1972-01-01..2200-01-01, the span a leap table covers: in a file, a
// rehearsal or a time given to ParseLabel.
var ErrOutOfRange = errors.New("outside 1972-01-01..2200-01-01")

// ParseError is a fault in a leap-second file: the source, the line (0 when
// the fault is not one line's, as in a binary file) and the reason.
type ParseError struct {
	Source string
	Line   int
	Err    error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d: %v", e.Source, e.Line, e.Err)
	}
	return fmt.Sprintf("leap file %s: %v", e.Source, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

func lineErr(source string, line int, format string, args ...any) error {
	return &ParseError{Source: source, Line: line, Err: fmt.Errorf(format, args...)}
}

// MaxFileSize bounds what the parsers read: real leap-second files are a few
// kilobytes.
const MaxFileSize = 1 << 20

// readLimited reads r to the end, refusing more than MaxFileSize bytes.
func readLimited(r io.Reader, source string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, &ParseError{Source: source, Err: err}
	}
	if len(data) > MaxFileSize {
		return nil, lineErr(source, 0, "larger than %d bytes, which no leap-second file is", MaxFileSize)
	}
	return data, nil
}

// Parse reads a leap-second table in any of the supported formats, detected
// from the content: the TZif magic, else tzdata's Leap or Expires lines, else
// the IETF/IERS leap-seconds.list.
func Parse(data []byte, source string, opt ParseOptions) (*Table, error) {
	// A binary file (its first line holds a NUL byte or bytes that are not
	// UTF-8 text: the text formats are ASCII) is named as such, rather than
	// quoted back. Text damaged further on is named by its line.
	if first, _, _ := bytes.Cut(data, []byte("\n")); DetectFormat(data) != FormatTZif && (bytes.IndexByte(first, 0) >= 0 || !utf8.Valid(first)) {
		return nil, lineErr(source, 0, "binary data: not a leap-seconds.list, a tzdata leapseconds file or a TZif right/ file")
	}
	switch DetectFormat(data) {
	case FormatTZif:
		return ParseTZif(data, source)
	case FormatTZData:
		return ParseTZData(bytes.NewReader(data), source)
	default:
		return ParseIERS(bytes.NewReader(data), source, opt)
	}
}

// Read reads a leap-second file from r (at most MaxFileSize bytes) and
// parses it as Parse does; source names it in errors and in the table.
func Read(r io.Reader, source string, opt ParseOptions) (*Table, error) {
	data, err := readLimited(r, source)
	if err != nil {
		return nil, err
	}
	return Parse(data, source, opt)
}

// DetectFormat guesses the format of a leap-second file from its content.
func DetectFormat(data []byte) Format {
	if bytes.HasPrefix(data, []byte(tzifMagic)) {
		return FormatTZif
	}
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		if f := strings.Fields(string(line)); len(f) > 0 && (strings.EqualFold(f[0], "Leap") || strings.EqualFold(f[0], "Expires")) {
			return FormatTZData
		}
	}
	return FormatIERS
}

// lines splits text into lines without their line ending (LF or CRLF).
// excerpt quotes a piece of a file for an error message, at most 40 bytes
// of it, so that a garbage file never floods the message.
func excerpt(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "..."
	}
	return strconv.Quote(s)
}

func lines(data []byte) []string {
	text := string(data)
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return nil
	}
	ls := strings.Split(text, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimSuffix(l, "\r")
	}
	return ls
}

// reason is an error said in words that keeps its cause for errors.Is and
// errors.As without printing it, where the cause's own text is a Go
// parser's ("cannot parse "" as "Z07:00"") and helps no reader.
type reason struct {
	text  string
	cause error
}

func (r *reason) Error() string { return r.text }
func (r *reason) Unwrap() error { return r.cause }

// instantForm says what ParseInstant takes.
const instantForm = "want RFC 3339 with a zone (Z for UTC, or an offset such as +01:00), such as 2026-11-23T15:00:00Z"

// ParseInstant reads an instant as every command and configuration option
// takes one: RFC 3339 with its zone, such as 2026-11-23T15:00:00Z or
// 2026-11-23T16:00:00.5+01:00. An instant without its zone is refused
// (saying so): local time is no time at all to a server. Errors say what is
// wanted in words, and wrap time's *time.ParseError.
func ParseInstant(s string) (time.Time, error) { return parseInstant(s, s) }

// parseInstant is ParseInstant of in, naming shown in its errors.
func parseInstant(in, shown string) (time.Time, error) {
	at, err := time.Parse(time.RFC3339Nano, in)
	if err == nil {
		return at, nil
	}
	if _, e := time.Parse("2006-01-02T15:04:05.999999999", in); e == nil {
		return time.Time{}, &reason{fmt.Sprintf("instant %q has no zone: %s", shown, instantForm), err}
	}
	return time.Time{}, &reason{fmt.Sprintf("instant %q: %s", shown, instantForm), err}
}

// checkInstant refuses instants this package cannot represent.
func checkInstant(at time.Time) error {
	if at.Before(firstInstant) || !at.Before(endInstant) {
		return fmt.Errorf("%s is %w", at.UTC().Format(time.RFC3339), ErrOutOfRange)
	}
	return nil
}

// finish validates a parsed table, naming the line of the offending event
// (lineOf[i] is the line of event i; 0 when unknown).
func finish(t *Table, lineOf []int) (*Table, error) {
	i, err := t.check()
	if err != nil {
		line := 0
		if i >= 0 && i < len(lineOf) {
			line = lineOf[i]
		}
		return nil, &ParseError{Source: t.Source, Line: line, Err: err}
	}
	return t, nil
}
