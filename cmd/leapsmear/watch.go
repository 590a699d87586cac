package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/plot"
	"github.com/leapsmear/leapsmear/watch"
)

func init() { register(newWatchCmd) }

// watchOptions are the flags of the watch command.
type watchOptions struct {
	duration    time.Duration
	every       time.Duration
	timeout     time.Duration
	version     int
	csv, svg    string
	json        bool
	leap        string
	noise       time.Duration
	delayMargin time.Duration
	nts         ntsClientFlags
}

func newWatchCmd() *cobra.Command {
	var o watchOptions
	cmd := &cobra.Command{
		Use:   "watch HOST[:PORT]... --for D [--every D] [--csv F] [--svg F] [--json]",
		Short: "Poll NTP servers through a leap and say whether each stepped or smeared",
		Long: `watch polls every server once per round (--every, all of them at the same
moment) for the time given with --for, then prints what each did:

  step   the whole change of its offset happened between two polls
  smear  the change was spread over many polls: the shape that fits best
         (linear, cosine, quadratic), its window, the preset it matches, the
         largest rate of change
  none   no change beyond the noise (--noise, 10 ms)

Offsets are measured against the watcher's clock as it read at the start plus
the monotonic time since, so that neither a leap applied by this host's own
kernel nor a step of its clock looks like a change of the servers.

TOTAL OFFSET is the leap a server applied as seen from here: the opposite of
the change of its offset from the watcher's clock. It is +1 s for an inserted
second (the server falls one second behind a clock that does not leap, as in
a rehearsal with --rehearse ...,+1) and -1 s for a deleted one.

The fleet spread is the largest difference between two servers at the same
instant: in each round every server's offset is brought to one instant along
its own curve, and only replies whose delay is within --delay-margin of the
least delay from that server count (an offset can be wrong by half the
excess delay). Servers are compared through the same local clock read in the
same round, so the local clock's own error cancels out.

With --leap (the UTC day that ends with the leap, or a rehearsal's instant in
RFC 3339) windows are named relative to the leap, such as linear:-20s:40s,
and the largest offset from true UTC is shown. Without it, a leap of the
built-in table within three days of the watch is used, if there is one.

The watch is bounded: --for is required, at most 80 h, --every at least
100 ms, and servers x rounds at most 2 000 000 requests. Ctrl-C ends it early
and prints the summary of what was seen. The exit status is 1 if a server
never answered.`,
		Example: `  # Rehearse: three servers, a leap two minutes from now, polled every 250 ms
  leapsmear watch 10.0.0.1 10.0.0.2 10.0.0.3 --for 6m --every 250ms \
      --leap 2026-11-23T15:00:00Z --svg rehearsal.svg --csv rehearsal.csv

  # A real leap: the public fleet from noon to noon, once a minute
  leapsmear watch time1.example.com time2.example.com --for 26h --every 1m --leap 2016-12-31

  # For scripts
  leapsmear watch 127.0.0.1:11123 --for 30s --every 500ms --json

  # Authenticated with NTS (NTS-KE on port 4460, a private CA)
  leapsmear watch time1.example.com time2.example.com --for 10m --nts --nts-ca ca.pem`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("watch: name at least one server: HOST[:PORT]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := watch.Config{Servers: args, For: o.duration, Every: o.every, Timeout: o.timeout, Version: uint8(o.version)}
			var err error
			if cfg.NTS, err = o.nts.options("watch"); err != nil {
				return err
			}
			switch {
			case o.duration == 0:
				return usagef("watch: --for D is required: how long to watch, e.g. --for 5m")
			case o.version != 3 && o.version != 4:
				return usagef("watch: --version %d: want 3 or 4", o.version)
			case o.noise <= 0:
				return usagef("watch: --noise %s: want a positive duration", o.noise)
			case o.delayMargin <= 0:
				return usagef("watch: --delay-margin %s: want a positive duration", o.delayMargin)
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			opt := watch.Options{Noise: o.noise}
			if o.leap != "" {
				at, err := parseLeapInstant(o.leap)
				if err != nil {
					return usagef("watch: --leap: %v", err)
				}
				opt.Leap = at
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runWatch(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg, opt, o)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.duration, "for", 0, "how long to watch (required; at most 80h)")
	f.DurationVar(&o.every, "every", watch.DefaultEvery, "poll interval (at least 100ms)")
	f.DurationVar(&o.timeout, "timeout", 0, "how long to wait for each answer (default: the smaller of --every and 2s)")
	f.IntVar(&o.version, "version", 4, "NTP version of the requests: 3 or 4")
	f.StringVar(&o.csv, "csv", "", "write every sample to this CSV file: one row per round and server")
	f.StringVar(&o.svg, "svg", "", "draw the offsets to this SVG file: one line per server (PNG if it ends in .png)")
	f.BoolVar(&o.json, "json", false, `print the summary as JSON: {"servers": [{"server", "class", "shape", "total_offset_ns", "max_rate_ppm", ...}], "spread_ns", ...}`)
	f.StringVar(&o.leap, "leap", "", "the leap: the UTC day it ends (2016-12-31) or a rehearsal's instant (2026-11-23T15:00:00Z)")
	f.DurationVar(&o.noise, "noise", watch.DefaultNoise, "changes of offset below this are noise: class none")
	f.DurationVar(&o.delayMargin, "delay-margin", watch.DefaultDelayMargin, "fleet spread: compare only replies whose delay is within this of the least delay from their server")
	o.nts.register(cmd)
	return cmd
}

// parseLeapInstant reads a date (the leap is at the midnight that ends it)
// or an RFC 3339 instant.
func parseLeapInstant(s string) (time.Time, error) {
	if day, err := time.Parse("2006-01-02", s); err == nil {
		return day.AddDate(0, 0, 1), nil
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want the UTC day that ends with the leap (2016-12-31) or an RFC 3339 instant (2026-11-23T15:00:00Z)", s)
	}
	return at.UTC(), nil
}

// tableLeap returns the leap of the built-in table within three days of the
// span, if there is one.
func tableLeap(from, to time.Time) time.Time {
	for _, e := range leap.Default().Events {
		if e.Effective.After(from.Add(-72*time.Hour)) && e.Effective.Before(to.Add(72*time.Hour)) {
			return e.Effective
		}
	}
	return time.Time{}
}

func runWatch(ctx context.Context, stdout, stderr io.Writer, cfg watch.Config, opt watch.Options, o watchOptions) error {
	fmt.Fprintf(stderr, "watching %d server(s) every %v for %v: at most %d requests (Ctrl-C stops early)\n",
		len(cfg.Servers), cfg.Every, cfg.For, cfg.Requests())
	rec, err := watch.Watch(ctx, cfg)
	if err != nil && rec == nil {
		return err
	}
	if err != nil {
		fmt.Fprintf(stderr, "stopped early after %d round(s)\n", len(rec.Rounds))
	}
	if len(rec.Rounds) == 0 {
		return errors.New("watch: no round was made")
	}
	if opt.Leap.IsZero() {
		opt.Leap = tableLeap(rec.Rounds[0].At, rec.Rounds[len(rec.Rounds)-1].At)
	}
	sopt := watch.SpreadOptions{DelayMargin: o.delayMargin}
	sum := watch.Summarize(rec, opt, sopt)

	if o.csv != "" {
		if err := writeFile(o.csv, func(w io.Writer) error { return watch.WriteCSV(w, rec, sopt) }); err != nil {
			return err
		}
	}
	if o.svg != "" {
		chart, format := watch.Chart(rec, sum, sopt), plot.SVG
		if strings.EqualFold(filepath.Ext(o.svg), ".png") {
			format = plot.PNG
		}
		if err := writeFile(o.svg, func(w io.Writer) error { return chart.Write(w, format) }); err != nil {
			return err
		}
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		printWatch(stdout, sum)
	}
	silent := 0
	for _, s := range sum.Servers {
		if s.Answered == 0 {
			silent++
			fmt.Fprintf(stderr, "leapsmear: %s never answered: %s\n", s.Server, s.Error)
		}
	}
	if silent > 0 {
		return fmt.Errorf("%d of %d servers never answered", silent, len(sum.Servers))
	}
	return nil
}

// writeFile creates path and writes it with write.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("watch: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	return nil
}

// printWatch prints the summary table and the fleet spread.
func printWatch(w io.Writer, sum watch.Summary) {
	fmt.Fprintf(w, "watched %s to %s: %d rounds every %v\n\n", sum.Start, sum.End, sum.Rounds, time.Duration(sum.EveryNs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tCLASS\tSHAPE\tPOLICY\tWINDOW (UTC)\tTOTAL OFFSET\tMAX RATE\tMAX UTC OFFSET\tANSWERED")
	var notes []string
	for _, s := range sum.Servers {
		shape, policy := orDash(s.Shape), orDash(s.Policy)
		window, rate, maxOff := "-", "-", "-"
		switch watch.Class(s.Class) {
		case watch.ClassStep:
			window = "between " + clock(s.WindowStart) + " and " + clock(s.WindowEnd)
			rate = "(a jump)"
		case watch.ClassSmear:
			start, _ := time.Parse(time.RFC3339Nano, s.WindowStart)
			end, _ := time.Parse(time.RFC3339Nano, s.WindowEnd)
			window = fmt.Sprintf("%s to %s (%v)", clock(s.WindowStart), clock(s.WindowEnd), end.Sub(start).Round(time.Millisecond))
			rate = fmt.Sprintf("%.1f ppm", s.MaxRatePPM)
			if !s.Complete {
				notes = append(notes, s.Server+": the watch began or ended during the change: watch longer to see its shape and total")
			}
		case watch.ClassNone:
			rate = fmt.Sprintf("%.3f ppm", s.MaxRatePPM)
		}
		if s.MaxOffsetNs != nil {
			maxOff = seconds(time.Duration(*s.MaxOffsetNs), true) + " s"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s s\t%s\t%s\t%d/%d\n", s.Server, s.Class, shape, policy, window,
			seconds(time.Duration(s.TotalOffsetNs), true), rate, maxOff, s.Answered, s.Answered+s.Lost)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if sum.SpreadRounds == 0 {
		fmt.Fprintln(w, "fleet spread: no round compared two servers")
	} else {
		fmt.Fprintf(w, "fleet spread: %s s at %s between %s and %s\n  (the largest difference between two servers at the same instant, over %d rounds)\n",
			seconds(time.Duration(sum.SpreadNs), false), clock(sum.SpreadAt), sum.SpreadBetween[0], sum.SpreadBetween[1], sum.SpreadRounds)
	}
	for _, n := range notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// clock shortens an RFC 3339 instant to its time of day with milliseconds.
func clock(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("15:04:05.000")
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
