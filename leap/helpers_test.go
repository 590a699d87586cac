package leap

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// Helpers shared by the tests: writers of the three formats (written from
// the formats' documentation, independently of the parsers), and random
// valid tables.

func utc(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// table builds a valid table from (effective, delta) pairs.
func table(source string, expires time.Time, evs ...any) *Table {
	t := &Table{Source: source, Base: BaseOffset, Expires: expires}
	off := BaseOffset
	for i := 0; i < len(evs); i += 2 {
		d := evs[i+1].(int)
		off += d
		t.Events = append(t.Events, Event{Effective: evs[i].(time.Time), TAIUTC: off, Delta: d})
	}
	return t
}

// negTable has positive and negative leaps, with a negative one last.
func negTable() *Table {
	return table("synthetic-negative", utc(1974, 6, 28),
		utc(1972, 7, 1), 1, utc(1973, 1, 1), -1, utc(1973, 7, 1), 1, utc(1974, 1, 1), -1)
}

// randomTable returns a valid table of 1 to 40 events of random sign at
// month boundaries between 1972 and 2150, with an expiry or none.
func randomTable(r *rand.Rand) *Table {
	t := &Table{Source: "random", Base: BaseOffset}
	off := BaseOffset
	at := utc(1972, 1, 1)
	n := 1 + r.IntN(40)
	for range n {
		at = at.AddDate(0, 1+r.IntN(36), 0)
		d := 1
		if r.IntN(3) == 0 {
			d = -1
		}
		off += d
		t.Events = append(t.Events, Event{Effective: at, TAIUTC: off, Delta: d})
	}
	if r.IntN(4) > 0 {
		t.Expires = at.AddDate(0, 0, 1+r.IntN(400))
	}
	return t
}

// ntpOf renders an instant as NTP seconds.
func ntpOf(at time.Time) int64 { return at.Unix() + 2208988800 }

// writeIERS renders t as a leap-seconds.list with a correct #h line; words
// formats each 32-bit word of the SHA-1 (such as "%08x", or "%x" as NIST).
func writeIERS(t *Table, updated time.Time, words string) []byte {
	var b bytes.Buffer
	var digits strings.Builder
	fmt.Fprintf(&b, "#\tA synthetic leap-seconds.list for tests.\n#\n")
	fmt.Fprintf(&b, "#$\t%d\n#\n", ntpOf(updated))
	digits.WriteString(fmt.Sprint(ntpOf(updated)))
	if !t.Expires.IsZero() {
		fmt.Fprintf(&b, "#@\t%d\n#\n", ntpOf(t.Expires))
		digits.WriteString(fmt.Sprint(ntpOf(t.Expires)))
	}
	line := func(at time.Time, off int) {
		fmt.Fprintf(&b, "%d\t%d\t# %s\n", ntpOf(at), off, at.Format("2 Jan 2006"))
		digits.WriteString(fmt.Sprintf("%d%d", ntpOf(at), off))
	}
	line(utc(1972, 1, 1), t.Base)
	for _, e := range t.Events {
		line(e.Effective, e.TAIUTC)
	}
	sum := sha1.Sum([]byte(digits.String()))
	b.WriteString("#\n#h\t")
	for i := 0; i < 20; i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, words, binary.BigEndian.Uint32(sum[i:]))
	}
	b.WriteString("\n")
	return b.Bytes()
}

// writeTZData renders t as a tzdata leapseconds file.
func writeTZData(t *Table, updated time.Time) []byte {
	var b bytes.Buffer
	b.WriteString("# A synthetic leapseconds file for tests.\n")
	for _, e := range t.Events {
		day := e.Day()
		clock, sign := "23:59:60", "+"
		if e.Delta < 0 {
			clock, sign = "23:59:59", "-"
		}
		fmt.Fprintf(&b, "Leap\t%d\t%s\t%d\t%s\t%s\tS\n", day.Year(), day.Format("Jan"), day.Day(), clock, sign)
	}
	if !t.Expires.IsZero() {
		fmt.Fprintf(&b, "#Expires %s\n", t.Expires.Format("2006\tJan\t2\t15:04:05"))
		fmt.Fprintf(&b, "#updated %d (%s)\n", updated.Unix(), updated.Format(time.DateTime))
		fmt.Fprintf(&b, "#expires %d (%s)\n", t.Expires.Unix(), t.Expires.Format(time.DateTime))
	}
	return b.Bytes()
}

// tzifRecord is one leap record: occurrence on the right/ scale, correction.
type tzifRecord struct {
	occ  int64
	corr int32
}

// tzifRecords computes the records zic writes for t: the occurrence of an
// inserted second is T plus the correction before it, a deleted second is
// placed at 23:59:59 (one second earlier); with expiry, a last record repeats
// the correction at the expiry instant plus the correction.
func tzifRecords(t *Table, withExpiry bool) []tzifRecord {
	var recs []tzifRecord
	var corr int64
	for _, e := range t.Events {
		occ := e.Unix() + corr
		if e.Delta < 0 {
			occ--
		}
		corr += int64(e.Delta)
		recs = append(recs, tzifRecord{occ, int32(corr)})
	}
	if withExpiry && !t.Expires.IsZero() {
		recs = append(recs, tzifRecord{t.Expires.Unix() + corr, int32(corr)})
	}
	return recs
}

// buildTZif writes a TZif file of the given version byte (0 for version 1)
// for UTC with the leap records given, in both data blocks.
func buildTZif(version byte, recs []tzifRecord) []byte {
	var b bytes.Buffer
	put32 := func(v uint32) { binary.Write(&b, binary.BigEndian, v) }
	header := func() {
		b.WriteString("TZif")
		b.WriteByte(version)
		b.Write(make([]byte, 15))
		// isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
		for _, c := range []int{1, 1, len(recs), 0, 1, 4} {
			put32(uint32(c))
		}
	}
	block := func(timeSize int) {
		b.Write([]byte{0, 0, 0, 0, 0, 0}) // one type: UTC offset 0, not DST, abbreviation 0
		b.WriteString("UTC\x00")
		for _, r := range recs {
			if timeSize == 4 {
				put32(uint32(int32(r.occ)))
			} else {
				binary.Write(&b, binary.BigEndian, r.occ)
			}
			put32(uint32(r.corr))
		}
		b.Write([]byte{0, 0}) // isstd, isut
	}
	header()
	block(4)
	if version == 0 {
		return b.Bytes()
	}
	header()
	block(8)
	b.WriteString("\nUTC0\n")
	return b.Bytes()
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// sameEvents fails the test unless a and b hold the same events.
func sameEvents(t testing.TB, what string, got, want []Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !got[i].equal(want[i]) || got[i].Synthetic != want[i].Synthetic {
			t.Fatalf("%s: event %d is %v, want %v", what, i+1, got[i], want[i])
		}
	}
}
