package leap

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"
)

// ntpUnixOffset is the number of seconds from the NTP epoch (1900-01-01) to
// the POSIX epoch (1970-01-01).
const ntpUnixOffset = 2208988800

// ParseIERS reads an IETF/IERS leap-seconds.list: data lines of an NTP
// timestamp (seconds since 1900) and TAI-UTC from then on, the first one
// being the 1972 base; "#$" the last update, "#@" the expiry and "#h" the
// SHA-1 checksum, as five hexadecimal words.
//
// The checksum is verified as the file's documentation defines it: SHA-1 over
// the digits of the #$ line, the #@ line and each data line before its "#",
// in file order, whitespace and comments left out. The words of the #h line
// may lack leading zeros, as NIST's copies write them. A mismatch is an error
// wrapping ErrChecksum, and a file that is otherwise sound but has no #h line
// (cut short or edited: the IERS and IETF lists always carry one) an error
// wrapping ErrNoChecksum, unless opt.AcceptUnverified, which loads either as
// an unverified table.
func ParseIERS(r io.Reader, source string, opt ParseOptions) (*Table, error) {
	data, err := readLimited(r, source)
	if err != nil {
		return nil, err
	}
	t := &Table{Source: source, Format: FormatIERS, Base: BaseOffset}
	digits := sha1.New()
	var (
		baseLine, updatedLine, expiresLine, hashLine int
		prev                                         int
		want                                         []byte
		lineOf                                       []int
		// The first fault found. Hashing goes on past it, so that a
		// tampered file is reported as such rather than by its symptom.
		fault error
	)
	faultf := func(ln int, format string, args ...any) {
		if fault == nil {
			fault = lineErr(source, ln, format, args...)
		}
	}
	for n, line := range lines(data) {
		ln := n + 1
		switch {
		case strings.HasPrefix(line, "#h"):
			if hashLine != 0 {
				faultf(ln, "second #h (checksum) line; the first is line %d", hashLine)
				continue
			}
			hashLine = ln
			var err error
			if want, err = hashWords(line[2:]); err != nil {
				faultf(ln, "#h line: %w", err)
			}
		case strings.HasPrefix(line, "#$"), strings.HasPrefix(line, "#@"):
			writeDigits(digits, line[2:])
			if fault != nil {
				continue
			}
			seen, what := &updatedLine, "#$ (last update)"
			if line[1] == '@' {
				seen, what = &expiresLine, "#@ (expiry)"
			}
			if *seen != 0 {
				faultf(ln, "second %s line; the first is line %d", what, *seen)
				continue
			}
			*seen = ln
			f := strings.Fields(line[2:])
			if len(f) != 1 {
				faultf(ln, "%s line: want one NTP timestamp, found %q", what, strings.TrimSpace(line[2:]))
				continue
			}
			at, err := ntpInstant(f[0])
			if err != nil {
				faultf(ln, "%s line: %w", what, err)
				continue
			}
			if line[1] == '$' {
				t.Updated = at
			} else {
				t.Expires = at
			}
		case strings.HasPrefix(line, "#"):
			// A comment.
		default:
			text, _, _ := strings.Cut(line, "#")
			writeDigits(digits, text)
			f := strings.Fields(text)
			if len(f) == 0 || fault != nil {
				continue
			}
			if len(f) != 2 {
				faultf(ln, "want an NTP timestamp and TAI-UTC, found %s", excerpt(strings.TrimSpace(text)))
				continue
			}
			at, err := ntpInstant(f[0])
			if err != nil {
				faultf(ln, "%w", err)
				continue
			}
			dtai, err := decimal(f[1], 4)
			if err != nil {
				faultf(ln, "TAI-UTC %s: %w", excerpt(f[1]), &reason{"want a whole number of seconds", err})
				continue
			}
			if baseLine == 0 {
				if !at.Equal(firstInstant) || dtai != BaseOffset {
					faultf(ln, "the first data line is %s TAI-UTC %d; want the 1972 base, %d (1972-01-01) TAI-UTC %d",
						at.Format(time.RFC3339), dtai, firstInstant.Unix()+ntpUnixOffset, BaseOffset)
					continue
				}
				baseLine, prev = ln, int(dtai)
				continue
			}
			delta := int(dtai) - prev
			if delta != 1 && delta != -1 {
				faultf(ln, "TAI-UTC goes from %d to %d; a leap second changes it by exactly one", prev, dtai)
				continue
			}
			t.Events = append(t.Events, Event{Effective: at, TAIUTC: int(dtai), Delta: delta})
			lineOf = append(lineOf, ln)
			prev = int(dtai)
		}
	}
	got := digits.Sum(nil)
	switch {
	case hashLine == 0 || want == nil:
		// Refused below, after the faults, unless opt.AcceptUnverified.
		t.Verification = "no #h checksum line accepted by request"
	case bytes.Equal(got, want):
		t.Verified, t.Verification = true, "SHA-1 checksum matched"
	case opt.AcceptUnverified:
		t.Verification = "checksum mismatch accepted by request"
	default:
		return nil, &ParseError{Source: source, Line: hashLine, Err: fmt.Errorf(
			"%w: the #h line says %s but the data hash to %s; the file was altered or damaged",
			ErrChecksum, hex.EncodeToString(want), hex.EncodeToString(got))}
	}
	if fault != nil {
		return nil, fault
	}
	if baseLine == 0 {
		return nil, lineErr(source, 0, "no data lines: not a leap-seconds.list")
	}
	if len(t.Events) == 0 {
		return nil, lineErr(source, 0, "no leap seconds after the 1972 base line")
	}
	if hashLine == 0 && !opt.AcceptUnverified {
		return nil, &ParseError{Source: source, Err: fmt.Errorf(
			"%w: the lists of the IERS and the IETF always carry one, so this one was cut short or edited", ErrNoChecksum)}
	}
	return finish(t, lineOf)
}

// writeDigits hashes the decimal digits of s, leaving out everything else.
func writeDigits(h hash.Hash, s string) {
	b := make([]byte, 0, len(s))
	for _, c := range []byte(s) {
		if c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	h.Write(b)
}

// hashWords reads the five hexadecimal words of a #h line, which may lack
// leading zeros, into the 20 bytes of a SHA-1 sum.
func hashWords(s string) ([]byte, error) {
	f := strings.Fields(s)
	if len(f) != 5 {
		return nil, fmt.Errorf("want five hexadecimal words, found %d", len(f))
	}
	sum := make([]byte, 0, sha1.Size)
	for _, w := range f {
		if len(w) > 8 {
			return nil, fmt.Errorf("word %s is longer than 8 hexadecimal digits", excerpt(w))
		}
		v, err := strconv.ParseUint(w, 16, 32)
		if err != nil {
			return nil, &reason{fmt.Sprintf("word %s is not hexadecimal", excerpt(w)), err}
		}
		sum = append(sum, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return sum, nil
}

// ntpInstant reads NTP seconds (era 0) as an instant between 1972 and 2200.
func ntpInstant(s string) (time.Time, error) {
	v, err := decimal(s, 12)
	if err != nil {
		return time.Time{}, fmt.Errorf("NTP timestamp %s: %w", excerpt(s), err)
	}
	at := time.Unix(v-ntpUnixOffset, 0).UTC()
	if err := checkInstant(at); err != nil {
		return time.Time{}, fmt.Errorf("NTP timestamp %s: %w", s, err)
	}
	return at, nil
}

// decimal reads an unsigned decimal of at most maxDigits digits. Its errors
// wrap strconv.ErrSyntax (not digits) or strconv.ErrRange (too many).
func decimal(s string, maxDigits int) (int64, error) {
	if s == "" || len(s) > maxDigits {
		cause := strconv.ErrRange
		if s == "" {
			cause = strconv.ErrSyntax
		}
		return 0, &reason{fmt.Sprintf("want 1 to %d decimal digits", maxDigits), cause}
	}
	var v int64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, &reason{"want decimal digits only", strconv.ErrSyntax}
		}
		v = v*10 + int64(c-'0')
	}
	return v, nil
}
