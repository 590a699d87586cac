// Package leapfile loads leap-second tables from files: it reads each file,
// parses it (leap.Parse), corroborates tables of formats without a checksum
// against the embedded table, checks every table against the embedded one
// and against each other, and selects the table to use (leap.Select).
//
// Load keeps no state: each call starts afresh, so a server may call it at
// start and again on SIGHUP, keeping its old table when Load fails.
package leapfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

// Report says what Load found.
type Report struct {
	// Sources holds one table per file, in the order given (after
	// corroboration); with no files, the embedded table alone.
	Sources []*leap.Table
	// Differences between the files, and the conflicts of each file with the
	// embedded table.
	Differences []leap.Difference
	// Chosen is the table Load returned; nil when it failed.
	Chosen *leap.Table
}

// Conflicts returns the differences that are contradictions.
func (r Report) Conflicts() []leap.Difference { return leap.Conflicts(r.Differences) }

// Load reads the leap-second files at paths (any format leap.Parse knows)
// and returns the table to use at instant at, with a report. With no paths it
// returns the embedded table (leap.Default).
//
// Tables without a checksum are corroborated against the embedded table.
// A file that contradicts the embedded table where both are in force, or
// unexpired files that contradict each other, make Load fail: it never picks
// one of two disagreeing tables. When it fails after parsing, the report
// still holds every source and the differences, for the caller to show.
func Load(paths []string, opt leap.ParseOptions, at time.Time) (*leap.Table, Report, error) {
	def := leap.Default()
	if len(paths) == 0 {
		return def, Report{Sources: []*leap.Table{def}, Chosen: def}, nil
	}
	var rep Report
	for _, p := range paths {
		t, err := readFile(p, opt)
		if err != nil {
			return nil, Report{}, err
		}
		if !t.Format.HasChecksum() {
			leap.Corroborate(t, def)
		}
		rep.Sources = append(rep.Sources, t)
	}
	chosen, diffs, selErr := leap.Select(rep.Sources, at)
	rep.Differences = diffs
	var refErr error
	for _, t := range rep.Sources {
		for _, d := range leap.Conflicts(leap.Compare(t, def)) {
			rep.Differences = append(rep.Differences, d)
			if refErr == nil {
				refErr = fmt.Errorf("leap file %s disagrees with the %s: %s", t.Source, def.Source, d)
			}
		}
	}
	if selErr != nil {
		return nil, rep, selErr
	}
	if refErr != nil {
		return nil, rep, refErr
	}
	rep.Chosen = chosen
	return chosen, rep, nil
}

// readFile reads and parses one file; errors name the path. Anything but a
// regular file (a FIFO, a device) is refused before it is opened: opening
// one could block a reload for ever.
func readFile(path string, opt leap.ParseOptions) (*leap.Table, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, pathErr(path, err)
	}
	switch m := fi.Mode(); {
	case m.IsDir():
		return nil, fmt.Errorf("leap file %s: is a directory", path)
	case m&fs.ModeNamedPipe != 0:
		return nil, fmt.Errorf("leap file %s: is a named pipe (FIFO), not a leap-second file; give the path of a regular file", path)
	case !m.IsRegular():
		return nil, fmt.Errorf("leap file %s: not a regular file (mode %s); give the path of a leap-second file", path, m)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, pathErr(path, err)
	}
	defer f.Close()
	return leap.Read(f, path, opt)
}

// pathErr names the file once: "leap file /x: no such file or directory".
func pathErr(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("leap file %s: %w", path, err)
}

// WritableByOthers says whether anyone but the owner can change what path
// holds: the file itself is world-writable, or its directory is (without the
// sticky bit, which keeps others from replacing files they do not own). It
// returns a sentence naming what is writable, or "" when neither is (or the
// file cannot be examined: Load reports that).
func WritableByOthers(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return fmt.Sprintf("%s is writable by every user (mode %s): anyone could change the leap seconds it serves; chmod o-w it", path, fi.Mode().Perm())
	}
	dir := filepath.Dir(path)
	if di, err := os.Stat(dir); err == nil && di.Mode().Perm()&0o002 != 0 && di.Mode()&fs.ModeSticky == 0 {
		return fmt.Sprintf("the directory %s of %s is writable by every user (mode %s): anyone could replace the file; chmod o-w it", dir, path, di.Mode().Perm())
	}
	return ""
}
