package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/plot"
	"github.com/leapsmear/leapsmear/smear"
)

func init() { register(newPlotCmd) }

func newPlotCmd() *cobra.Command {
	var (
		f        policyLeapFlags
		policies []string
		out      string
		png      bool
		from, to string
		samples  int
	)
	cmd := &cobra.Command{
		Use:   "plot --policy P[,P]... --leap DATE -o FILE.svg [--png]",
		Short: "Draw the offset and rate curves of smear policies around a leap",
		Long: `Draw one picture with two panels: the offset of the served time from true UTC
(ms) and the rate of the served clock (ppm), against UTC, for each policy
named. The offset jumps by one second where true UTC repeats (or skips) a
second, so a smear reads -0.5 s just before an inserted second and +0.5 s just
after it; the step policy serves true UTC and stays at 0.

The time span covers every policy's window with a margin unless --from and
--to are given. The output is SVG, or PNG with --png (or a .png file name).`,
		Example: `  leapsmear plot --policy step,noon-to-noon,cosine-2008,quadratic-17h --leap 2016-12-31 -o policies.svg
  leapsmear plot --policy linear:-30s:61s --leap 2030-06-30 --sign -1 -o negative.png
  leapsmear plot --policy noon-to-noon --leap 2016-12-31 --from 2016-12-31T00:00:00Z --to 2017-01-02T00:00:00Z -o nn.svg`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("-o FILE is required")
			}
			format := plot.SVG
			if png || strings.EqualFold(filepath.Ext(out), ".png") {
				format = plot.PNG
			}
			var ps []smear.Policy
			for _, list := range policies {
				for _, name := range strings.Split(list, ",") {
					p, err := smear.Parse(name)
					if err != nil {
						return usagef("--policy: %v", err)
					}
					ps = append(ps, p)
				}
			}
			if len(ps) == 0 {
				return usagef("give at least one --policy")
			}
			var start, end time.Time
			var err error
			if (from == "") != (to == "") {
				return usagef("give both --from and --to, or neither")
			}
			if from != "" {
				if start, err = time.Parse(time.RFC3339, from); err != nil {
					return usagef("--from %q: want RFC 3339", from)
				}
				if end, err = time.Parse(time.RFC3339, to); err != nil {
					return usagef("--to %q: want RFC 3339", to)
				}
				if !end.After(start) {
					return usagef("--to must be after --from")
				}
			}
			table, event, err := f.table()
			if err != nil {
				return err
			}
			var smears []*smear.Smear
			for _, p := range ps {
				s, err := smear.New(table, p)
				if err != nil {
					return err
				}
				smears = append(smears, s)
			}
			chart, err := plot.PolicyCurves(smears, event.Day(), start, end, samples)
			if err != nil {
				return err
			}
			file, err := os.Create(out)
			if err != nil {
				return fmt.Errorf("plot: %w", err)
			}
			if err := chart.Write(file, format); err != nil {
				file.Close()
				return err
			}
			if err := file.Close(); err != nil {
				return fmt.Errorf("plot: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", out)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringArrayVar(&policies, "policy", nil, "policies to draw, comma-separated or repeated: presets or SHAPE:START:LENGTH")
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (.svg, or .png)")
	cmd.Flags().BoolVar(&png, "png", false, "write PNG whatever the file name")
	cmd.Flags().StringVar(&from, "from", "", "start of the time axis, RFC 3339 (default: every window with a margin)")
	cmd.Flags().StringVar(&to, "to", "", "end of the time axis, RFC 3339")
	cmd.Flags().IntVar(&samples, "samples", 2000, "points per curve")
	return cmd
}
