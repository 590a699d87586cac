package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/smearclock"
)

func init() { register(newUnsmearCmd) }

// unsmearRow is one converted timestamp, as --json prints it.
type unsmearRow struct {
	Smeared string `json:"smeared"`
	UTC     string `json:"utc"`
	TAIUTC  int    `json:"tai_utc"`
	// TAI is set with --to tai.
	TAI string `json:"tai,omitempty"`
	// Repeated marks a value the step policy served twice (see --help).
	Repeated bool `json:"repeated,omitempty"`
	// late marks a timestamp after the table's expiry.
	late bool
}

// unsmearer converts smeared timestamps with one smear.
type unsmearer struct {
	s     *smear.Smear
	table *leap.Table
	toTAI bool
}

// stampLimits bound the timestamps converted: leap tables start in 1972 and
// TAI nanoseconds overflow in 2262.
var (
	firstStamp = time.Date(1972, 1, 1, 0, 0, 0, 0, time.UTC)
	endStamp   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// convert unsmears one RFC 3339 timestamp written by the smeared clock.
func (u *unsmearer) convert(stamp string) (unsmearRow, error) {
	l, err := leap.ParseLabel(stamp)
	if err != nil {
		return unsmearRow{}, err
	}
	if l.Leap {
		return unsmearRow{}, fmt.Errorf("time %q: a smeared clock never reads second 60", stamp)
	}
	if l.Time.Before(firstStamp) || !l.Time.Before(endStamp) {
		return unsmearRow{}, fmt.Errorf("time %q: outside 1972-01-01..2200-01-01", stamp)
	}
	served := smear.Time(l.Time.UnixNano())
	x := smearclock.UnsmearNs(u.s, served)
	if u.s.Policy().Shape == smear.Step && u.s.Served(x) != served {
		return unsmearRow{}, fmt.Errorf("time %q: never served: the step policy skips that deleted second", stamp)
	}
	label := u.table.LabelFromTAI(x)
	row := unsmearRow{
		Smeared:  l.Time.Format(time.RFC3339Nano),
		UTC:      label.String(),
		TAIUTC:   u.table.OffsetAt(label.Time),
		Repeated: smearclock.Repeated(u.s, served),
		late:     u.table.Expired(l.Time),
	}
	if u.toTAI {
		row.TAI = formatTAI(x)
	}
	return row, nil
}

// formatTAI writes a TAI instant as RFC 3339 does a UTC one, with " TAI" in
// place of the zone: 2017-01-01T00:00:36.5 TAI.
func formatTAI(x leap.TAI) string {
	return time.Unix(0, int64(x)).UTC().Format("2006-01-02T15:04:05.999999999") + " TAI"
}

// out returns what replaces the timestamp: UTC or TAI.
func (r unsmearRow) out() string {
	if r.TAI != "" {
		return r.TAI
	}
	return r.UTC
}

func newUnsmearCmd() *cobra.Command {
	var (
		lf      leapFlags
		policy  string
		to      string
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "unsmear --policy P [--leap-file F]... [--to utc|tai] [--json] [TIMESTAMP...]",
		Short: "Correct timestamps written by a smeared clock to true UTC (or TAI)",
		Long: `unsmear turns timestamps read from a leap-smeared clock (a host synchronised to
a smearing NTP server, or to leapsmear) into the true instants they stand for:
UTC written with 23:59:60 inside an inserted leap second, or TAI with --to tai.
--policy must name the policy the clock was smeared with (noon-to-noon for
Google's and AWS's public NTP); the leap table is the built-in one unless
--leap-file is given.

With TIMESTAMP arguments (RFC 3339, any zone), it prints one row each: the
smeared time, the true time and TAI-UTC in seconds. A timestamp that cannot be
unsmeared is a mistake on the command line (exit status 2).

With none, it is a filter: it reads lines on standard input and writes them to
standard output with every RFC 3339 timestamp (2016-12-31T18:00:00.123Z,
2016-12-31T19:00:00+01:00, ...) replaced by the true UTC instant in UTC (or by
the TAI instant), leaving the rest of each line as it was. Input is streamed, a
line at a time, so files of any size work. A timestamp that cannot be unsmeared
(no zone, a bad date, second 60, outside 1972..2200) is left as it was; such
lines are counted on standard error, with the first of them, and the exit
status stays 0.

The result is exact to the nanosecond: it is the instant at which the smeared
clock read the timestamp, exact whenever that is a whole nanosecond (6 h into
the noon-to-noon smear, on the smeared clock, true time is exactly 250 ms
later) and within 1 ns otherwise. Timestamps after the table's expiry are
converted and counted on standard error: a leap announced since may be missing.

The step policy (no smear) serves the second 23:59:59 twice before an inserted
leap: once as 23:59:59 and again during 23:59:60. A timestamp in that second
cannot tell which; unsmear prints the first, 23:59:59.x, marks it "repeated"
(in --json, "repeated": true; in the table, a note naming 23:59:60.x) and counts
it on standard error in the filter. A timestamp inside a second deleted by the
step policy was never served and cannot be unsmeared.

--json prints a list of {"smeared", "utc", "tai_utc"} objects (with "tai" for
--to tai and "repeated" where it applies); in the filter it lists every
timestamp of the input instead of rewriting it.`,
		Example: `  leapsmear unsmear --policy noon-to-noon 2016-12-31T18:00:00Z 2017-01-01T00:00:00Z
  leapsmear unsmear --policy noon-to-noon --to tai --json 2017-01-01T06:00:00Z
  leapsmear unsmear --policy noon-to-noon < app.log > app.utc.log
  leapsmear unsmear --policy step 2016-12-31T23:59:59.5Z
  zcat app.log.gz | leapsmear unsmear --policy google-2016 --leap-file /usr/share/zoneinfo/leap-seconds.list`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := smear.Parse(policy)
			switch {
			case policy == "":
				return usagef("--policy is required: the policy the timestamps were smeared with, e.g. --policy noon-to-noon")
			case err != nil:
				return usagef("--policy: %w", err)
			case to != "utc" && to != "tai":
				return usagef("--to %q: want utc or tai", to)
			}
			table, _, err := lf.load(time.Now())
			if err != nil {
				return err
			}
			s, err := smear.New(table, p)
			if err != nil {
				return err
			}
			u := &unsmearer{s: s, table: table, toTAI: to == "tai"}
			// Expiry matters only to the timestamps after it, counted below.
			for _, p := range table.Problems(time.Now()) {
				if p.Kind == leap.Unverified {
					fmt.Fprintf(cmd.ErrOrStderr(), "leapsmear: warning: %s\n", p)
				}
			}
			if len(args) > 0 {
				return unsmearArgs(cmd, u, args, jsonOut)
			}
			return unsmearFilter(cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), u, jsonOut)
		},
	}
	lf.register(cmd)
	cmd.Flags().StringVar(&policy, "policy", "", "the policy the timestamps were smeared with: a preset or SHAPE:START:LENGTH (required)")
	cmd.Flags().StringVar(&to, "to", "utc", "write true times as utc (23:59:60 in an inserted second) or tai")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print a JSON list of {smeared, utc, tai_utc}")
	return cmd
}

// unsmearArgs converts the command line's timestamps.
func unsmearArgs(cmd *cobra.Command, u *unsmearer, args []string, jsonOut bool) error {
	rows := make([]unsmearRow, 0, len(args))
	late := 0
	for _, a := range args {
		r, err := u.convert(a)
		if err != nil {
			return usagef("%w", err)
		}
		if r.late {
			late++
		}
		rows = append(rows, r)
	}
	if late > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "leapsmear: warning: %s\n", u.lateWarning(late))
	}
	w := cmd.OutOrStdout()
	if jsonOut {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	col := "UTC"
	if u.toTAI {
		col = "TAI"
	}
	fmt.Fprintf(tw, "SMEARED\t%s\tTAI-UTC\n", col)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d", r.Smeared, r.out(), r.TAIUTC)
		if r.Repeated {
			// The same reading was served again one second later, in 23:59:60.
			fmt.Fprintf(tw, "\trepeated second: or %s60%s", r.UTC[:17], r.UTC[19:])
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// lateWarning says that n timestamps are past what the table vouches for.
func (u *unsmearer) lateWarning(n int) string {
	if u.table.Expires.IsZero() {
		return fmt.Sprintf("%d timestamps were unsmeared with leap table %s, which states no expiry: a leap second announced after it was made may be missing", n, u.table.Source)
	}
	return fmt.Sprintf("%d timestamps are after the leap table's expiry (%s): a leap second announced since may be missing",
		n, u.table.Expires.UTC().Format(time.RFC3339))
}

// filterStats counts what the filter met.
type filterStats struct {
	lines, stamps, badLines, repeated, late int
	firstBad                                string
}

// unsmearFilter rewrites the timestamps of every line of in, streaming; with
// jsonOut it writes the list of their conversions instead.
func unsmearFilter(in io.Reader, out, errOut io.Writer, u *unsmearer, jsonOut bool) error {
	br := bufio.NewReaderSize(in, 64<<10)
	bw := bufio.NewWriterSize(out, 64<<10)
	var st filterStats
	var long, buf []byte
	if jsonOut {
		bw.WriteString("[")
	}
	for {
		if br.Buffered() == 0 {
			// About to wait for input: pass on what is done, so that
			// tail -f app.log | leapsmear unsmear ... shows each line.
			if err := bw.Flush(); err != nil {
				return fmt.Errorf("writing standard output: %w", err)
			}
		}
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, line...) // a line longer than the buffer
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading standard input: %w", err)
		}
		if len(long) > 0 {
			long = append(long, line...)
			line = long
		}
		if len(line) > 0 {
			st.lines++
			buf = u.line(buf[:0], line, &st, jsonOut)
			if _, werr := bw.Write(buf); werr != nil {
				return fmt.Errorf("writing standard output: %w", werr)
			}
		}
		long = long[:0]
		if err != nil { // io.EOF
			break
		}
	}
	if jsonOut {
		if st.stamps > 0 {
			bw.WriteString("\n")
		}
		bw.WriteString("]\n")
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing standard output: %w", err)
	}
	st.report(errOut, u)
	return nil
}

// report writes the filter's counts to w when something needs saying.
func (st *filterStats) report(w io.Writer, u *unsmearer) {
	if st.badLines > 0 {
		fmt.Fprintf(w, "leapsmear: unsmear: %d of %d lines had a timestamp that could not be unsmeared, left as it was (first: %s)\n",
			st.badLines, st.lines, st.firstBad)
	}
	if st.repeated > 0 {
		fmt.Fprintf(w, "leapsmear: unsmear: %d timestamps fell in the second 23:59:59 that the step policy served twice; each was written as its first occurrence (23:59:59), it may have been 23:59:60\n", st.repeated)
	}
	if st.late > 0 {
		fmt.Fprintf(w, "leapsmear: unsmear: %s\n", u.lateWarning(st.late))
	}
}

// line appends to dst the line with every timestamp unsmeared, or with
// jsonOut the JSON list elements of its timestamps' conversions.
func (u *unsmearer) line(dst, line []byte, st *filterStats, jsonOut bool) []byte {
	bad := false
	last := 0
	for i := 0; i < len(line); {
		start, end, zoned := nextStamp(line, i)
		if start < 0 {
			break
		}
		i = end
		stamp := string(line[start:end])
		var r unsmearRow
		var err error
		if !zoned {
			err = fmt.Errorf("time %q has no time zone", stamp)
		} else {
			r, err = u.convert(stamp)
		}
		if err != nil {
			if st.firstBad == "" {
				st.firstBad = fmt.Sprintf("line %d: %v", st.lines, err)
			}
			bad = true
			continue
		}
		if r.Repeated {
			st.repeated++
		}
		if r.late {
			st.late++
		}
		if jsonOut {
			if st.stamps > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, "\n  "...)
			b, _ := json.Marshal(r) // strings, ints and bools always encode
			dst = append(dst, b...)
		} else {
			dst = append(dst, line[last:start]...)
			dst = append(dst, r.out()...)
			last = end
		}
		st.stamps++
	}
	if bad {
		st.badLines++
	}
	if jsonOut {
		return dst
	}
	return append(dst, line[last:]...)
}

// nextStamp finds the next thing shaped like an RFC 3339 timestamp in b at
// or after i: YYYY-MM-DDTHH:MM:SS, an optional fraction, and a zone (Z or
// ±HH:MM). It returns its bounds and whether it has a zone; start is -1 when
// there is none.
func nextStamp(b []byte, i int) (start, end int, zoned bool) {
	for ; i+19 <= len(b); i++ {
		j := bytes.IndexByte(b[i:], 'T')
		if j < 0 {
			return -1, 0, false
		}
		s := i + j - 10
		if s < i || s+19 > len(b) || !stampShape(b[s:s+19]) || (s > 0 && isWordByte(b[s-1])) {
			i += j // the loop steps past this T
			continue
		}
		e := s + 19
		if e+1 < len(b) && b[e] == '.' && isDigit(b[e+1]) {
			e++
			for e < len(b) && isDigit(b[e]) {
				e++
			}
		}
		switch {
		case e < len(b) && b[e] == 'Z':
			return s, e + 1, true
		case e+6 <= len(b) && (b[e] == '+' || b[e] == '-') && isDigit(b[e+1]) && isDigit(b[e+2]) && b[e+3] == ':' && isDigit(b[e+4]) && isDigit(b[e+5]):
			return s, e + 6, true
		}
		return s, e, false
	}
	return -1, 0, false
}

// stampShape reports whether b (19 bytes) reads NNNN-NN-NNTNN:NN:NN.
func stampShape(b []byte) bool {
	const shape = "0000-00-00T00:00:00"
	for k := range len(shape) {
		if shape[k] == '0' {
			if !isDigit(b[k]) {
				return false
			}
		} else if b[k] != shape[k] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isWordByte(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}
