package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapfile"
)

// leapFlags are the flags that choose the leap-second table, shared by the
// commands that need one (table, serve): --leap-file (repeatable) and
// --accept-unverified.
type leapFlags struct {
	files            []string
	acceptUnverified bool
}

// register adds the flags to cmd.
func (f *leapFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.files, "leap-file", nil,
		"leap-second file: IETF/IERS leap-seconds.list, tzdata leapseconds or a TZif right/ file\n"+
			"such as /usr/share/zoneinfo/right/UTC (repeatable: the files are cross-checked;\n"+
			"default: the table built into leapsmear)")
	fl.BoolVar(&f.acceptUnverified, "accept-unverified", false,
		"load a leap-seconds.list whose #h SHA-1 checksum does not match, or that has no #h line\n(it is reported unverified)")
}

// load reads the table the flags name, as it stands at the instant at.
func (f *leapFlags) load(at time.Time) (*leap.Table, leapfile.Report, error) {
	t, rep, err := leapfile.Load(f.files, leap.ParseOptions{AcceptUnverified: f.acceptUnverified}, at)
	return t, rep, checksumHint(err)
}

// checksumHint adds to a checksum mismatch, or a missing checksum, the flag
// that loads the file anyway.
func checksumHint(err error) error {
	if errors.Is(err, leap.ErrChecksum) || errors.Is(err, leap.ErrNoChecksum) {
		return fmt.Errorf("%w (--accept-unverified loads it anyway)", err)
	}
	return err
}

// tableWarnings lists what an operator must hear about a table in use at
// instant at (leap.Table.Problems), with where to read more.
func tableWarnings(t *leap.Table, at time.Time) []string {
	var w []string
	for _, p := range t.Problems(at) {
		w = append(w, p.String()+" (see docs/leap-tables.md)")
	}
	return w
}
