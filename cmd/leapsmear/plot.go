package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/plot"
	"github.com/leapsmear/leapsmear/smear"
)

func init() { register(newPlotCmd) }

func newPlotCmd() *cobra.Command {
	var (
		f        policyLeapFlags
		policies []string
		out      string
		format   string
		from, to string
		samples  int
	)
	cmd := &cobra.Command{
		Use:   "plot --policy P[,P]... --leap DATE -o FILE.svg|FILE.png|-",
		Short: "Draw the curves of smear policies around a leap, as SVG or PNG",
		Long: `Draw one picture of the policies named around a leap, against UTC, in
stacked panels with one legend beside them:

  - the smear itself: the part of the leap second applied, from 0 to 1 s,
    against the continuous time scale (which never repeats or skips a
    second): the smooth curve the policy is, or the jump of step;
  - the offset of the served time from true UTC (ms), which jumps by one
    second where true UTC repeats (or skips) a second: a smear reads -0.5 s
    just before an inserted second and +0.5 s just after it; step serves
    true UTC and stays at 0;
  - the rate of the served clock (ppm); a policy more than 6 times faster
    than the others (slew-500ppm beside the day-long smears) gets a rate
    panel of its own, so that the slower curves keep their shape.

The time span covers every policy's window with a margin unless --from and
--to are given. The file name's extension chooses the format: .svg or .png;
any other is refused. "-o -" writes to standard output, as SVG unless
--format png.`,
		Example: `  leapsmear plot --policy step,noon-to-noon,cosine-2008,quadratic-17h --leap 2016-12-31 -o policies.svg
  leapsmear plot --policy linear:-30s:61s --leap 2030-06-30 --sign -1 -o negative.png
  leapsmear plot --policy noon-to-noon --leap 2016-12-31 --from 2016-12-31T00:00:00Z --to 2017-01-02T00:00:00Z -o nn.svg
  leapsmear plot --policy quadratic-17h --leap 2016-12-31 --format png -o - > q.png`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("-o FILE is required (FILE.svg, FILE.png, or - for standard output)")
			}
			var chosen plot.Format
			if format != "" {
				var err error
				if chosen, err = plot.ParseFormat(format); err != nil {
					return usagef("--format %s: want svg or png", format)
				}
			}
			pictureFormat := chosen
			if out == "-" {
				if pictureFormat == "" {
					pictureFormat = plot.SVG
				}
			} else {
				byName, err := plot.FormatOf(out)
				if err != nil {
					return usagef("-o %w", err)
				}
				if chosen != "" && chosen != byName {
					return usagef("-o %s asks for %s but --format says %s: give one", out, byName, chosen)
				}
				pictureFormat = byName
			}
			var ps []smear.Policy
			for _, list := range policies {
				for _, name := range strings.Split(list, ",") {
					p, err := smear.Parse(name)
					if err != nil {
						return usagef("--policy: %w", err)
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
				if start, err = leap.ParseInstant(from); err != nil {
					return usagef("--from: %w", err)
				}
				if end, err = leap.ParseInstant(to); err != nil {
					return usagef("--to: %w", err)
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
				return optionError("plot", err)
			}
			// Render first, so that a failure leaves no half-written file.
			var buf bytes.Buffer
			if err := chart.Write(&buf, pictureFormat); err != nil {
				return err
			}
			if out == "-" {
				if _, err := cmd.OutOrStdout().Write(buf.Bytes()); err != nil {
					return fmt.Errorf("plot: standard output: %w", err)
				}
				return nil
			}
			if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				return fmt.Errorf("plot: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", out)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringArrayVar(&policies, "policy", nil, "policies to draw, comma-separated or repeated: presets or SHAPE:START:LENGTH")
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write: FILE.svg or FILE.png (the extension chooses the format), or - for standard output")
	cmd.Flags().StringVar(&format, "format", "", "svg or png: the format for -o - (default svg); with a file it must agree with the extension")
	cmd.Flags().StringVar(&from, "from", "", "start of the time axis, RFC 3339 (default: every window with a margin)")
	cmd.Flags().StringVar(&to, "to", "", "end of the time axis, RFC 3339")
	cmd.Flags().IntVar(&samples, "samples", 2000, fmt.Sprintf("points per curve (2 to %d)", plot.MaxSamples))
	return cmd
}
