package leap

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ParseTZData reads tzdata's leapseconds file, the input zic takes with -L:
//
//	Leap	2016	Dec	31	23:59:60	+	S
//	Expires	2026	Jun	28	00:00:00
//	#updated 1751846400 (2025-07-07 00:00:00 UTC)
//	#expires 1782604800 (2026-06-28 00:00:00 UTC)
//
// A Leap line names the inserted second (23:59:60, "+") or the deleted one
// (23:59:59, "-"); only stationary ("S", UTC) leaps exist. The expiry comes
// from the Expires line, or else from the "#expires" comment that newer files
// use instead; "#updated" gives the last update. The format has no checksum:
// the table is unverified until corroborated (see Corroborate).
func ParseTZData(r io.Reader, source string) (*Table, error) {
	data, err := readLimited(r, source)
	if err != nil {
		return nil, err
	}
	t := &Table{Source: source, Format: FormatTZData, Base: BaseOffset, Verification: "no checksum in this format"}
	var (
		expiresLine, commentExpiresLine, updatedLine int
		commentExpires                               time.Time
		lineOf                                       []int
		taiutc                                       = BaseOffset
	)
	for n, line := range lines(data) {
		ln := n + 1
		if v, ok := hashComment(line, "#updated"); ok {
			if updatedLine != 0 {
				return nil, lineErr(source, ln, "second #updated line; the first is line %d", updatedLine)
			}
			if t.Updated, err = posixInstant(v); err != nil {
				return nil, lineErr(source, ln, "#updated: %w", err)
			}
			updatedLine = ln
			continue
		}
		if v, ok := hashComment(line, "#expires"); ok {
			if commentExpiresLine != 0 {
				return nil, lineErr(source, ln, "second #expires line; the first is line %d", commentExpiresLine)
			}
			if commentExpires, err = posixInstant(v); err != nil {
				return nil, lineErr(source, ln, "#expires: %w", err)
			}
			commentExpiresLine = ln
			continue
		}
		text, _, _ := strings.Cut(line, "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		switch {
		case strings.EqualFold(f[0], "Leap"):
			if len(f) != 7 {
				return nil, lineErr(source, ln, "a Leap line has 7 fields (Leap YEAR MONTH DAY HH:MM:SS +|- S), found %d", len(f))
			}
			at, err := zicDateTime(f[1:5])
			if err != nil {
				return nil, lineErr(source, ln, "%w", err)
			}
			var delta int
			switch f[5] {
			case "+":
				delta = 1
			case "-":
				// zic names the deleted second itself: it ends one second later.
				delta, at = -1, at.Add(time.Second)
			default:
				return nil, lineErr(source, ln, "correction %s: want + or -", excerpt(f[5]))
			}
			switch {
			case prefixFold("Stationary", f[6]):
			case prefixFold("Rolling", f[6]):
				return nil, lineErr(source, ln, "rolling (local time) leap seconds are not supported; leap seconds happen at a UTC instant (S)")
			default:
				return nil, lineErr(source, ln, "%s: want S (stationary)", excerpt(f[6]))
			}
			if err := checkInstant(at); err != nil {
				return nil, lineErr(source, ln, "%w", err)
			}
			taiutc += delta
			t.Events = append(t.Events, Event{Effective: at, TAIUTC: taiutc, Delta: delta})
			lineOf = append(lineOf, ln)
		case strings.EqualFold(f[0], "Expires"):
			if expiresLine != 0 {
				return nil, lineErr(source, ln, "second Expires line; the first is line %d", expiresLine)
			}
			if len(f) != 5 {
				return nil, lineErr(source, ln, "an Expires line has 5 fields (Expires YEAR MONTH DAY HH:MM:SS), found %d", len(f))
			}
			at, err := zicDateTime(f[1:5])
			if err == nil {
				err = checkInstant(at)
			}
			if err != nil {
				return nil, lineErr(source, ln, "%w", err)
			}
			t.Expires, expiresLine = at, ln
		default:
			return nil, lineErr(source, ln, "want a Leap or Expires line, found %s", excerpt(f[0]))
		}
	}
	if len(t.Events) == 0 {
		return nil, lineErr(source, 0, "no Leap lines: not a tzdata leapseconds file")
	}
	if commentExpiresLine != 0 {
		if expiresLine == 0 {
			t.Expires = commentExpires
		} else if !commentExpires.Equal(t.Expires) {
			return nil, lineErr(source, max(expiresLine, commentExpiresLine), "the Expires line (%s) and the #expires line (%s) disagree",
				t.Expires.Format(time.RFC3339), commentExpires.Format(time.RFC3339))
		}
	}
	return finish(t, lineOf)
}

// hashComment reports whether line is the special comment key (such as
// "#updated") and returns the number that follows it.
func hashComment(line, key string) (string, bool) {
	rest, ok := strings.CutPrefix(line, key)
	if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return "", false
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", true
	}
	return f[0], true
}

// posixInstant reads POSIX seconds as an instant between 1972 and 2200.
func posixInstant(s string) (time.Time, error) {
	v, err := decimal(s, 11)
	if err != nil {
		return time.Time{}, fmt.Errorf("POSIX timestamp %s: %w", excerpt(s), err)
	}
	at := time.Unix(v, 0).UTC()
	if err := checkInstant(at); err != nil {
		return time.Time{}, err
	}
	return at, nil
}

var monthNames = [...]string{"January", "February", "March", "April", "May", "June",
	"July", "August", "September", "October", "November", "December"}

// zicDateTime reads YEAR MONTH DAY HH:MM:SS as zic does, where the month is
// an English name or its abbreviation and the time may name second 60: it
// returns the UTC instant at the end of that time (the start of the next day
// for 23:59:60).
func zicDateTime(f []string) (time.Time, error) {
	year, err := decimal(f[0], 4)
	if err == nil && (year < 1972 || year >= 2200) {
		err = ErrOutOfRange
	}
	if err != nil {
		return time.Time{}, &reason{fmt.Sprintf("year %q: want 1972 to 2199", f[0]), err}
	}
	month := 0
	for i, name := range monthNames {
		if len(f[1]) >= 3 && prefixFold(name, f[1]) {
			month = i + 1
		}
	}
	if month == 0 {
		return time.Time{}, fmt.Errorf("month %q: want an English month name such as Jun", f[1])
	}
	days := time.Date(int(year), time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	day, err := decimal(f[2], 2)
	if err == nil && (day < 1 || int(day) > days) {
		err = strconv.ErrRange
	}
	if err != nil {
		return time.Time{}, &reason{fmt.Sprintf("day %q: want 1 to %d", f[2], days), err}
	}
	tod, err := clockSeconds(f[3])
	if err != nil {
		return time.Time{}, err
	}
	return time.Date(int(year), time.Month(month), int(day), 0, 0, int(tod), 0, time.UTC), nil
}

// clockSeconds reads H, H:MM or H:MM:SS (second up to 60) as seconds since
// midnight.
func clockSeconds(s string) (int64, error) {
	parts := strings.Split(s, ":")
	limits := []int64{24, 59, 60}
	if len(parts) > 3 {
		return 0, fmt.Errorf("time %q: want HH:MM:SS", s)
	}
	var secs int64
	for i, p := range parts {
		v, err := decimal(p, 2)
		if err == nil && v > limits[i] {
			err = strconv.ErrRange
		}
		if err != nil {
			return 0, &reason{fmt.Sprintf("time %q: want HH:MM:SS", s), err}
		}
		secs += v * []int64{3600, 60, 1}[i]
	}
	return secs, nil
}

// prefixFold reports whether abbr is a non-empty case-insensitive prefix of word.
func prefixFold(word, abbr string) bool {
	return abbr != "" && len(abbr) <= len(word) && strings.EqualFold(word[:len(abbr)], abbr)
}
