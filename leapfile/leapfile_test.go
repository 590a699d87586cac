package leapfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

const testdata = "../leap/testdata/"

var (
	now      = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	noOption = leap.ParseOptions{}
)

// writeTemp writes a file in a fresh temporary directory and returns its path.
func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(testdata + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestLoadDefault(t *testing.T) {
	tb, rep, err := Load(nil, noOption, now)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Source != leap.DefaultSource || !tb.Verified || rep.Chosen != tb || len(rep.Sources) != 1 || len(rep.Differences) != 0 {
		t.Fatalf("%+v %+v", tb, rep)
	}
}

func TestLoadRealFilesAllVerified(t *testing.T) {
	for _, name := range []string{"leap-seconds.list", "leapseconds", "right_UTC"} {
		tb, rep, err := Load([]string{testdata + name}, noOption, now)
		if err != nil {
			t.Fatal(err)
		}
		if !tb.Verified || tb.Source != testdata+name || len(tb.Events) != 27 || !tb.Expired(now) {
			t.Errorf("%s: verified %v (%s), %d events, expired %v", name, tb.Verified, tb.Verification, len(tb.Events), tb.Expired(now))
		}
		if len(rep.Conflicts()) != 0 {
			t.Errorf("%s: conflicts %v", name, rep.Conflicts())
		}
	}
}

func TestLoadSeveralAgreeing(t *testing.T) {
	paths := []string{testdata + "right_UTC", testdata + "leapseconds", testdata + "leap-seconds-2026b.list", testdata + "leapseconds-2026f"}
	tb, rep, err := Load(paths, noOption, now)
	if err != nil {
		t.Fatal(err)
	}
	// 2026b (expires 2026-12-28) and 2026f (2027-06-28) are in force on
	// 2026-11-23: the later one wins, corroborated.
	if tb.Source != testdata+"leapseconds-2026f" || !tb.Verified || rep.Chosen != tb {
		t.Errorf("chose %s (%s)", tb.Source, tb.Verification)
	}
	if len(rep.Sources) != 4 || len(rep.Differences) != 6 || len(rep.Conflicts()) != 0 {
		t.Errorf("sources %d, differences %v", len(rep.Sources), rep.Differences)
	}
	for _, d := range rep.Differences {
		if d.Kind != leap.DifferentExpiry {
			t.Errorf("difference %v", d)
		}
	}
}

func TestLoadChangedTZDataDisagrees(t *testing.T) {
	changed := bytes.Replace(read(t, "leapseconds"), []byte("Leap	2016	Dec	31"), []byte("Leap	2016	Jun	30"), 1)
	p := writeTemp(t, "leapseconds", changed)
	tb, rep, err := Load([]string{p}, noOption, now)
	want := "leap file " + p + " disagrees with the embedded leap-seconds.list: leap 2016-06-30 23:59:60 +1 (TAI-UTC 37) is in " + p + " but not in embedded leap-seconds.list"
	if tb != nil || err == nil || err.Error() != want {
		t.Fatalf("got %v, %v", tb, err)
	}
	if len(rep.Sources) != 1 || rep.Sources[0].Verified || rep.Chosen != nil || len(rep.Conflicts()) != 2 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.HasPrefix(rep.Sources[0].Verification, "not corroborated by embedded leap-seconds.list") {
		t.Errorf("verification %q", rep.Sources[0].Verification)
	}
}

func TestLoadFilesDisagreeWithEachOther(t *testing.T) {
	// Drop the 2017 leap from a copy whose expiry covers it.
	trimmed := bytes.Replace(read(t, "leapseconds-2026f"), []byte("Leap	2016	Dec	31	23:59:60	+	S\n"), nil, 1)
	p := writeTemp(t, "leapseconds", trimmed)
	good := testdata + "leap-seconds-2026b.list"
	_, rep, err := Load([]string{good, p}, noOption, now)
	if err == nil || !strings.Contains(err.Error(), "leap tables "+good+" and "+p+" disagree: leap 2016-12-31 23:59:60 +1 (TAI-UTC 37) is in "+good+" but not in "+p) {
		t.Fatalf("got %v", err)
	}
	if len(rep.Sources) != 2 || rep.Chosen != nil || len(rep.Conflicts()) == 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestLoadTampered(t *testing.T) {
	tampered := bytes.Replace(read(t, "leap-seconds.list"), []byte("3644697600      36"), []byte("3644697600      35"), 1)
	p := writeTemp(t, "leap-seconds.list", tampered)
	_, rep, err := Load([]string{p}, noOption, now)
	if !errors.Is(err, leap.ErrChecksum) || !strings.HasPrefix(err.Error(), p+" line 120: SHA-1 checksum mismatch") || len(rep.Sources) != 0 {
		t.Fatalf("got %v, %+v", err, rep)
	}
	// Accepting unverified files shows the fault the tampering made.
	_, _, err = Load([]string{p}, leap.ParseOptions{AcceptUnverified: true}, now)
	if err == nil || err.Error() != p+" line 112: TAI-UTC goes from 35 to 35; a leap second changes it by exactly one" {
		t.Fatalf("got %v", err)
	}
}

func TestLoadAcceptUnverifiedHarmlessChange(t *testing.T) {
	// A changed update stamp breaks the checksum but not the data.
	changed := bytes.Replace(read(t, "leap-seconds.list"), []byte("#$	3960835200"), []byte("#$	3960835299"), 1)
	p := writeTemp(t, "leap-seconds.list", changed)
	if _, _, err := Load([]string{p}, noOption, now); !errors.Is(err, leap.ErrChecksum) {
		t.Fatalf("got %v", err)
	}
	tb, _, err := Load([]string{p}, leap.ParseOptions{AcceptUnverified: true}, now)
	if err != nil || tb.Verified || tb.Verification != "checksum mismatch accepted by request" {
		t.Fatalf("got %v, %+v", err, tb)
	}
}

// TestLoadNoHashLine: a leap-seconds.list whose #h line was cut off is
// refused (at start and on reload alike: both call Load), unless
// AcceptUnverified, which loads it as unverified.
func TestLoadNoHashLine(t *testing.T) {
	data := read(t, "leap-seconds-2026b.list")
	p := writeTemp(t, "leap-seconds.list", data[:bytes.Index(data, []byte("#h"))])
	_, rep, err := Load([]string{p}, noOption, now)
	if !errors.Is(err, leap.ErrNoChecksum) || !strings.HasPrefix(err.Error(), "leap file "+p+": no #h checksum line") || len(rep.Sources) != 0 {
		t.Fatalf("got %v, %+v", err, rep)
	}
	tb, _, err := Load([]string{p}, leap.ParseOptions{AcceptUnverified: true}, now)
	if err != nil || tb.Verified || tb.Verification != "no #h checksum line accepted by request" {
		t.Fatalf("AcceptUnverified: %v, %+v", err, tb)
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	if _, _, err := Load([]string{missing}, noOption, now); err == nil || err.Error() != "leap file "+missing+": no such file or directory" {
		t.Errorf("missing: %v", err)
	}
	if _, _, err := Load([]string{dir}, noOption, now); err == nil || err.Error() != "leap file "+dir+": is a directory" {
		t.Errorf("directory: %v", err)
	}
	// A FIFO is refused before it is opened: opening it would wait for a
	// writer for ever (a reload must never block on it).
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load([]string{fifo}, noOption, now); err == nil || err.Error() != "leap file "+fifo+": is a named pipe (FIFO), not a leap-second file; give the path of a regular file" {
		t.Errorf("fifo: %v", err)
	}
	big := writeTemp(t, "big", bytes.Repeat([]byte("#\n"), leap.MaxFileSize))
	if _, _, err := Load([]string{big}, noOption, now); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big: %v", err)
	}
	garbage := writeTemp(t, "garbage", []byte("hello\n"))
	if _, _, err := Load([]string{garbage}, noOption, now); err == nil || err.Error() != garbage+" line 1: want an NTP timestamp and TAI-UTC, found \"hello\"" {
		t.Errorf("garbage: %v", err)
	}
	// One bad file among good ones fails the whole load.
	if tb, _, err := Load([]string{testdata + "leap-seconds.list", garbage}, noOption, now); err == nil || tb != nil {
		t.Errorf("good then bad: %v", err)
	}
}

func TestWritableByOthers(t *testing.T) {
	dir := t.TempDir()
	p := writeTemp(t, "leap-seconds.list", read(t, "leap-seconds.list"))
	if err := os.Chmod(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if w := WritableByOthers(p); w != "" {
		t.Errorf("a 0644 file in a 0755 directory: %q", w)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		t.Fatal(err)
	}
	if w := WritableByOthers(p); !strings.Contains(w, "writable by every user (mode -rw-rw-rw-)") {
		t.Errorf("a 0666 file: %q", w)
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil { // whatever the umask
		t.Fatal(err)
	}
	q := filepath.Join(open, "leapseconds")
	if err := os.WriteFile(q, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if w := WritableByOthers(q); !strings.Contains(w, "the directory "+open) {
		t.Errorf("a file in a 0777 directory: %q", w)
	}
	if err := os.Chmod(open, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if w := WritableByOthers(q); w != "" {
		t.Errorf("a file in a sticky 1777 directory (as /tmp): %q", w)
	}
}
