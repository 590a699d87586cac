package leap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

const (
	tzifMagic      = "TZif"
	tzifHeaderSize = 44
)

// tzifHeader holds the counts of a TZif header (RFC 9636 section 3.1).
type tzifHeader struct {
	version                                               int
	isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt int64
}

// readTZifHeader reads a header; what names it in errors.
func readTZifHeader(data []byte, what string) (tzifHeader, error) {
	if len(data) < tzifHeaderSize || string(data[:4]) != tzifMagic {
		return tzifHeader{}, fmt.Errorf("%s: no TZif header", what)
	}
	h := tzifHeader{version: int(data[4])}
	counts := []*int64{&h.isutcnt, &h.isstdcnt, &h.leapcnt, &h.timecnt, &h.typecnt, &h.charcnt}
	for i, c := range counts {
		*c = int64(binary.BigEndian.Uint32(data[20+4*i:]))
		if *c > MaxFileSize {
			return tzifHeader{}, fmt.Errorf("%s: count %d is larger than the file", what, *c)
		}
	}
	return h, nil
}

// blockSize is the length of the data block that follows the header, with
// times of timeSize bytes (4 in the version 1 block, 8 in the version 2+ one).
func (h tzifHeader) blockSize(timeSize int64) int64 {
	return h.timecnt*timeSize + h.timecnt + h.typecnt*6 + h.charcnt + h.leapcnt*(timeSize+4) + h.isstdcnt + h.isutcnt
}

// ParseTZif reads the leap-second records of a TZif file of version 2 or
// later, such as tzdata's right/UTC, from its 64-bit data block.
//
// A record's occurrence counts the seconds of the right/ scale, which include
// the leap seconds before it, and its correction is the total of leap seconds
// so far, so TAI-UTC = 10 + correction. zic places an inserted second at
// 23:59:60 and a deleted one at 23:59:59, so the POSIX instant T from which
// the new offset holds is occurrence - previous correction for an inserted
// second, one more for a deleted one. In version 4 a last record that repeats
// the correction marks when the table expires. A file without it states no
// expiry (the table is then treated as expired). The format has no checksum:
// the table is unverified until corroborated (see Corroborate).
func ParseTZif(data []byte, source string) (*Table, error) {
	fail := func(format string, args ...any) (*Table, error) {
		return nil, lineErr(source, 0, format, args...)
	}
	if len(data) > MaxFileSize {
		return fail("larger than %d bytes, which no TZif file is", MaxFileSize)
	}
	h1, err := readTZifHeader(data, "TZif")
	if err != nil {
		return fail("%w", err)
	}
	if h1.version == 0 {
		return fail("TZif version 1 holds 32-bit data only; want version 2 or later")
	}
	if h1.version < '2' {
		return fail("unknown TZif version byte %#x", h1.version)
	}
	off := tzifHeaderSize + h1.blockSize(4)
	if off > int64(len(data)) {
		return fail("truncated in the version 1 data block")
	}
	h, err := readTZifHeader(data[off:], "second (64-bit) header")
	if err != nil {
		return fail("%w", err)
	}
	block := data[off+tzifHeaderSize:]
	size := h.blockSize(8)
	if size > int64(len(block)) {
		return fail("truncated in the 64-bit data block")
	}
	if footer := block[size:]; len(footer) < 2 || footer[0] != '\n' || bytes.IndexByte(footer[1:], '\n') < 0 {
		return fail("truncated: no footer after the 64-bit data block")
	}
	if h.leapcnt == 0 {
		return fail("no leap-second records; use a right/ file such as /usr/share/zoneinfo/right/UTC")
	}
	recs := block[h.timecnt*9+h.typecnt*6+h.charcnt:]
	t := &Table{Source: source, Format: FormatTZif, Base: BaseOffset, Verification: "no checksum in this format"}
	var prevOcc, prevCorr int64
	for i := range h.leapcnt {
		rec := recs[12*i:]
		occ := int64(binary.BigEndian.Uint64(rec))
		corr := int64(int32(binary.BigEndian.Uint32(rec[8:])))
		what := fmt.Sprintf("leap record %d of %d", i+1, h.leapcnt)
		if occ < firstInstant.Unix() || occ > endInstant.Unix()+MaxFileSize {
			return fail("%s: occurrence %d is outside 1972..2200", what, occ)
		}
		if i > 0 && occ <= prevOcc {
			return fail("%s: occurrence %d is not after the record before it (%d)", what, occ, prevOcc)
		}
		switch d := corr - prevCorr; {
		case d == 1 || d == -1:
			at := occ - prevCorr
			if d < 0 {
				at++
			}
			when := time.Unix(at, 0).UTC()
			if err := checkInstant(when); err != nil {
				return fail("%s: %w", what, err)
			}
			t.Events = append(t.Events, Event{Effective: when, TAIUTC: BaseOffset + int(corr), Delta: int(d)})
		case d == 0 && i > 0 && i == h.leapcnt-1:
			t.Expires = time.Unix(occ-corr, 0).UTC()
			if err := checkInstant(t.Expires); err != nil {
				return fail("%s (expiry): %w", what, err)
			}
		case i == 0:
			return fail("%s: the first correction is %d, not +1 or -1: a table truncated at the start (zic -r) lacks the earlier leap seconds", what, corr)
		default:
			return fail("%s: the correction goes from %d to %d; a leap second changes it by exactly one", what, prevCorr, corr)
		}
		prevOcc, prevCorr = occ, corr
	}
	return finish(t, nil)
}
