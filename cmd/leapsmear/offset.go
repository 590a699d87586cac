package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
)

func init() { register(newOffsetCmd) }

// policyLeapFlags choose a policy (or several) and one leap of a table, real
// or synthetic: shared by offset and plot.
type policyLeapFlags struct {
	day  string
	sign int
	leap leapFlags
}

func (f *policyLeapFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.day, "leap", "", "the UTC day that ends with the leap second, e.g. 2016-12-31 (required)")
	cmd.Flags().IntVar(&f.sign, "sign", 0, "evaluate a synthetic leap of this sign (+1 or -1) at the end of --leap instead of the table's")
	f.leap.register(cmd)
}

// table returns the leap table with the chosen leap in it, and that leap.
func (f *policyLeapFlags) table() (*leap.Table, leap.Event, error) {
	if f.day == "" {
		return nil, leap.Event{}, usagef("--leap DATE is required, e.g. --leap 2016-12-31")
	}
	day, err := time.Parse("2006-01-02", f.day)
	if err != nil {
		return nil, leap.Event{}, usagef("--leap %q: want a date such as 2016-12-31", f.day)
	}
	table, _, err := f.leap.load(time.Now())
	if err != nil {
		return nil, leap.Event{}, err
	}
	switch f.sign {
	case 0:
		e, ok := table.Find(day)
		if !ok {
			return nil, leap.Event{}, usagef("--leap %s: leap table %s has no leap second at the end of that day (give --sign +1 or -1 to evaluate a synthetic one)", f.day, table.Source)
		}
		return table, e, nil
	case 1, -1:
		if e, ok := table.Find(day); ok {
			if e.Delta != f.sign {
				return nil, leap.Event{}, usagef("--leap %s --sign %+d: the table has a leap of sign %+d on that day", f.day, f.sign, e.Delta)
			}
			return table, e, nil
		}
		synthetic, err := table.WithRehearsal(day.AddDate(0, 0, 1), f.sign)
		if err != nil {
			return nil, leap.Event{}, usagef("--leap %s --sign %+d: %w", f.day, f.sign, err)
		}
		// A synthetic leap, not a rehearsal: say which flag made it.
		synthetic.Source = fmt.Sprintf("%s + a synthetic leap second from --sign %+d", table.Source, f.sign)
		e, _ := synthetic.Find(day)
		return synthetic, e, nil
	}
	return nil, leap.Event{}, usagef("--sign %d: want +1 or -1", f.sign)
}

type offsetRow struct {
	At       string  `json:"at"`
	Served   string  `json:"served"`
	OffsetNs int64   `json:"offset_ns"`
	RatePPM  float64 `json:"rate_ppm"`
	LI       int     `json:"li"`
}

func newOffsetCmd() *cobra.Command {
	var (
		f       policyLeapFlags
		policy  string
		ats     []string
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "offset --policy P --leap DATE --at UTC [--at UTC]... [--json]",
		Short: "Print the served time and its offset from true UTC at given instants",
		Long: `For each --at instant (true UTC, RFC 3339; 23:59:60 names the inserted
second), print the time a server with this policy serves, offset_ns (served
minus true UTC, in nanoseconds, true UTC counted in POSIX seconds, which repeat
23:59:59 during an inserted second), the rate of the served clock in ppm, and
the leap indicator it announces.

--leap is the UTC day that ends with the leap second. Without --sign it must be
a leap of the table; --sign +1 or -1 evaluates a synthetic leap at the end of
that day instead (for a deleted second, 23:59:59 does not exist).`,
		Example: `  leapsmear offset --policy noon-to-noon --leap 2016-12-31 --at 2016-12-31T18:00:00Z --at 2017-01-01T06:00:00Z
  leapsmear offset --policy step --leap 2016-12-31 --at 2016-12-31T23:59:60.5Z --json
  leapsmear offset --policy quadratic:0s:10m --leap 2030-06-30 --sign -1 --at 2030-07-01T00:05:00Z`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(ats) == 0 {
				return usagef("give at least one --at instant")
			}
			if policy == "" {
				return usagef("--policy is required, e.g. --policy noon-to-noon")
			}
			p, err := smear.Parse(policy)
			if err != nil {
				return usagef("--policy: %w", err)
			}
			table, _, err := f.table()
			if err != nil {
				return err
			}
			s, err := smear.New(table, p)
			if err != nil {
				return err
			}
			rows := make([]offsetRow, 0, len(ats))
			for _, at := range ats {
				l, err := leap.ParseLabel(at)
				if err != nil {
					return usagef("--at: %w", err)
				}
				x, err := table.TAIFromLabel(l)
				if err != nil {
					return usagef("--at: %w", err)
				}
				rows = append(rows, offsetRow{At: l.String(), Served: s.Served(x).Time().Format(time.RFC3339Nano),
					OffsetNs: s.Offset(x).Nanoseconds(), RatePPM: s.RatePPM(x), LI: s.LI(x)})
			}
			return writeOffsets(cmd.OutOrStdout(), rows, jsonOut)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&policy, "policy", "", "policy: a preset or SHAPE:START:LENGTH (required)")
	cmd.Flags().StringArrayVar(&ats, "at", nil, "true UTC instant to evaluate, RFC 3339 (repeatable)")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print a JSON list of {at, served, offset_ns, rate_ppm, li}")
	return cmd
}

func writeOffsets(w io.Writer, rows []offsetRow, jsonOut bool) error {
	if jsonOut {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TRUE UTC\tSERVED\tOFFSET\tRATE\tLI")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%+.9f s\t%+.3f ppm\t%d\n", r.At, r.Served, float64(r.OffsetNs)/1e9, r.RatePPM, r.LI)
	}
	return tw.Flush()
}
