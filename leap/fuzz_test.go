package leap

import (
	"bytes"
	"strings"
	"testing"
)

// checkParsed is what every parser promises: an error names the source,
// and a table it returns validates and is in the format parsed.
func checkParsed(t *testing.T, tb *Table, err error, format Format) {
	if err != nil {
		if tb != nil {
			t.Fatalf("both a table and an error: %v", err)
		}
		if !strings.Contains(err.Error(), "fuzz") {
			t.Fatalf("error does not name the source: %v", err)
		}
		return
	}
	if verr := tb.Validate(); verr != nil {
		t.Fatalf("parsed table does not validate: %v", verr)
	}
	if tb.Format != format || tb.Source != "fuzz" || len(tb.Events) == 0 || tb.Base != BaseOffset {
		t.Fatalf("table %+v", tb)
	}
	if tb.Verified && format != FormatIERS {
		t.Fatal("a format without checksum came out verified")
	}
}

func seed(f *testing.F, files ...string) {
	for _, file := range files {
		f.Add(readTestdata(f, file))
	}
}

func FuzzParseIERS(f *testing.F) {
	seed(f, "leap-seconds.list", "leap-seconds-2026b.list", "leap-seconds-nist-style.list", "../data/leap-seconds.list")
	f.Add(writeIERS(negTable(), utc(1974, 1, 2), "%x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, err := ParseIERS(bytes.NewReader(data), "fuzz", ParseOptions{})
		checkParsed(t, tb, err, FormatIERS)
		tb2, err2 := ParseIERS(bytes.NewReader(data), "fuzz", ParseOptions{AcceptUnverified: true})
		checkParsed(t, tb2, err2, FormatIERS)
		if err == nil && (err2 != nil || tb2.Verified != tb.Verified) {
			t.Fatalf("AcceptUnverified changed the verdict on an acceptable file: %v", err2)
		}
		// Without AcceptUnverified, only a matching checksum gets a list in.
		if err == nil && !tb.Verified {
			t.Fatalf("unverified table accepted: %s", tb.Verification)
		}
	})
}

func FuzzParseTZData(f *testing.F) {
	seed(f, "leapseconds", "leapseconds-2026f", "leapseconds-negative")
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, err := ParseTZData(bytes.NewReader(data), "fuzz")
		checkParsed(t, tb, err, FormatTZData)
	})
}

func FuzzParseTZif(f *testing.F) {
	seed(f, "right_UTC", "right_UTC-2026f", "right_negative")
	f.Add(buildTZif('4', tzifRecords(negTable(), true)))
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, err := ParseTZif(data, "fuzz")
		checkParsed(t, tb, err, FormatTZif)
		// Parse detects the format and must agree.
		if tb2, err2 := Parse(data, "fuzz", ParseOptions{}); err == nil && (err2 != nil || len(tb2.Events) != len(tb.Events)) {
			t.Fatalf("Parse disagrees with ParseTZif: %v", err2)
		}
	})
}
