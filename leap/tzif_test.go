package leap

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParseTZifRealFiles(t *testing.T) {
	for _, file := range []string{"right_UTC", "right_UTC-2026f"} {
		tb, err := ParseTZif(readTestdata(t, file), file)
		if err != nil {
			t.Fatal(err)
		}
		// Debian's right/UTC is version 2 and states no expiry.
		if !tb.Expires.IsZero() || !tb.Updated.IsZero() || tb.Verified || tb.Format != FormatTZif {
			t.Errorf("%s: %+v", file, tb)
		}
		if !tb.Expired(utc(2000, 1, 1)) {
			t.Errorf("%s: a table without expiry is not expired", file)
		}
		sameEvents(t, file, tb.Events, goldenEvents(t))
	}
}

// TestParseTZifNegativeFromZic checks the mapping of deleted seconds against
// a file compiled by a real zic from testdata/leapseconds-negative.
func TestParseTZifNegativeFromZic(t *testing.T) {
	tz, err := ParseTZif(readTestdata(t, "right_negative"), "right_negative")
	if err != nil {
		t.Fatal(err)
	}
	src, err := ParseTZData(bytes.NewReader(readTestdata(t, "leapseconds-negative")), "leapseconds-negative")
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, "zic's right_negative", tz.Events, src.Events)
	// And the records tzifRecords computes are exactly zic's.
	var recs bytes.Buffer
	for _, r := range tzifRecords(src, false) {
		binary.Write(&recs, binary.BigEndian, r)
	}
	if !bytes.Contains(readTestdata(t, "right_negative"), recs.Bytes()) {
		t.Errorf("zic's file lacks the leap records % x", recs.Bytes())
	}
}

func TestParseTZifVersion4Expiry(t *testing.T) {
	want := negTable()
	tb, err := ParseTZif(buildTZif('4', tzifRecords(want, true)), "v4")
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, "v4", tb.Events, want.Events)
	if !tb.Expires.Equal(want.Expires) {
		t.Errorf("expires %v, want %v", tb.Expires, want.Expires)
	}
}

func TestParseTZifRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 200 {
		want := randomTable(r)
		for _, v := range []byte{'2', '3', '4'} {
			tb, err := ParseTZif(buildTZif(v, tzifRecords(want, v == '4')), "random")
			if err != nil {
				t.Fatal(err)
			}
			sameEvents(t, "TZif", tb.Events, want.Events)
			if wantExp := want.Expires; v != '4' {
				wantExp = time.Time{}
				if !tb.Expires.Equal(wantExp) {
					t.Fatalf("version %c: expires %v", v, tb.Expires)
				}
			} else if !tb.Expires.Equal(wantExp) {
				t.Fatalf("version 4: expires %v, want %v", tb.Expires, wantExp)
			}
		}
	}
}

func TestParseTZifErrors(t *testing.T) {
	good := tzifRecords(negTable(), false)
	real := readTestdata(t, "right_UTC")
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no TZif header"},
		{"not TZif", []byte("Leap 1972 Jun 30 23:59:60 + S\n"), "no TZif header"},
		{"version 1", buildTZif(0, good), "TZif version 1 holds 32-bit data only"},
		{"odd version", buildTZif('1', good), "unknown TZif version byte 0x31"},
		{"truncated header", real[:30], "no TZif header"},
		{"truncated v1 block", real[:100], "truncated in the version 1 data block"},
		{"truncated v2 block", real[:600], "truncated in the 64-bit data block"},
		{"no footer", real[:len(real)-2], "no footer"},
		{"no leap records", buildTZif('2', nil), "no leap-second records"},
		{"truncated start", buildTZif('4', []tzifRecord{{78796800 + 5, 6}, {94694400 + 6, 7}}), "leap record 1 of 2: the first correction is 6"},
		{"jump", buildTZif('2', []tzifRecord{{78796800, 1}, {94694401, 3}}), "leap record 2 of 2: the correction goes from 1 to 3"},
		{"repeat in the middle", buildTZif('2', []tzifRecord{{78796800, 1}, {94694401, 1}, {126230402, 2}}), "leap record 2 of 3: the correction goes from 1 to 1"},
		{"lone expiry", buildTZif('4', []tzifRecord{{78796800, 0}}), "leap record 1 of 1: the first correction is 0"},
		{"not ascending", buildTZif('2', []tzifRecord{{94694401, 1}, {78796800, 2}}), "leap record 2 of 2: occurrence 78796800 is not after"},
		{"before 1972", buildTZif('2', []tzifRecord{{-5, 1}}), "leap record 1 of 1: occurrence -5 is outside"},
		{"far future", buildTZif('2', []tzifRecord{{1 << 40, 1}}), "is outside"},
		{"mid-month", buildTZif('2', []tzifRecord{{78796800 + 86400, 1}}), "leap file bad: event 1 (1972-07-02T00:00:00Z) does not take effect"},
		{"expiry before last event", buildTZif('4', []tzifRecord{{78796800, 1}, {78796800 + 1, 1}}), "expires 1972-07-01T00:00:00Z, not after its last event"},
	}
	for _, c := range cases {
		_, err := ParseTZif(c.data, "bad")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "leap file bad: ") {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}
