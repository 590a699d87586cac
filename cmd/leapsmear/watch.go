package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/internal/option"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/plot"
	"github.com/leapsmear/leapsmear/watch"
	"github.com/leapsmear/leapsmear/watch/report"
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

A server that never answered shows "no answer" as its TOTAL OFFSET; one
that answered fewer than three times, "-" (class unknown). In the JSON, a
value that was not measured is null: total_offset_ns and max_rate_ppm of a
server of class unknown, spread_ns when no round compared two servers.

--csv and --svg are created before the first poll: a path that cannot be
written is refused at once (exit status 2), not after the watch. The CSV gets
each round's rows as they come, so that a watch that crashes or is killed
leaves every round it saw, with relative_ns empty: that column (the offset
from the first server at the round's common instant) needs the rounds after.
When the watch ends, also by Ctrl-C or SIGTERM, the file is written again in
full with relative_ns, through a temporary file beside it renamed over it, so
that it is a whole CSV file at every moment (a pipe or device given as --csv
keeps the rows as they came). The chart draws each server's offset as its
change since its first answer (a server replaying a past leap is years off
the watcher's clock), and each server's offset from the first one; one more
than a minute from it at the first comparison (a replay) is drawn less that
first difference, which the panel's title states.

The watch is bounded: --for is required, at most 80 h, --every at least
100 ms, and servers x rounds at most 2 000 000 requests. Ctrl-C or SIGTERM
ends it early and prints the summary of what was seen and writes the files.
The exit status is 1 if a server never answered or a file could not be
written; 2, before the first poll, for a mistake in the command line such as
a server address written wrong (127.0.0.1:abc).`,
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
				if _, ok := option.As(err); ok {
					return optionError("watch", err)
				}
				return usageError{err}
			}
			opt := watch.Options{Noise: o.noise}
			if o.leap != "" {
				at, err := parseLeapInstant(o.leap)
				if err != nil {
					return usagef("watch: --leap: %w", err)
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
	f.StringVar(&o.csv, "csv", "", "write every sample to this CSV file as the watch goes: one row per round and server")
	f.StringVar(&o.svg, "svg", "", "draw the offsets to this SVG file at the end: one line per server (PNG if it ends in .png)")
	f.BoolVar(&o.json, "json", false, `print the summary as JSON: {"servers": [{"server", "class", "shape", "total_offset_ns", "max_rate_ppm", ...}], "spread_ns", ...}`)
	f.StringVar(&o.leap, "leap", "", "the leap: the UTC day it ends (2016-12-31) or a rehearsal's instant (2026-11-23T15:00:00Z)")
	f.DurationVar(&o.noise, "noise", watch.DefaultNoise, "changes of offset below this are noise: class none")
	f.DurationVar(&o.delayMargin, "delay-margin", watch.DefaultDelayMargin, "fleet spread: compare only replies whose delay is within this of the least delay from their server")
	o.nts.register(cmd)
	return cmd
}

// parseLeapInstant reads a date (the leap is at the midnight that ends it,
// and the built-in table must have one there, as offset and plot require)
// or an RFC 3339 instant (any instant: a rehearsal's).
func parseLeapInstant(s string) (time.Time, error) {
	if day, err := time.Parse("2006-01-02", s); err == nil {
		t := leap.Default()
		if _, ok := t.Find(day); !ok {
			return time.Time{}, fmt.Errorf("%s: leap table %s has no leap second at the end of that day; for a rehearsed leap give its RFC 3339 instant (2026-11-23T15:00:00Z)", s, t.Source)
		}
		return day.AddDate(0, 0, 1), nil
	}
	at, err := leap.ParseInstant(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w; or the UTC day that ends with the leap, such as 2016-12-31", err)
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
	sopt := watch.SpreadOptions{DelayMargin: o.delayMargin}
	// Every output is opened before the first poll: a typo must not cost
	// the watch. The CSV gets its rows as the rounds come.
	var out watchOutputs
	if err := out.open(o); err != nil {
		return err
	}
	defer out.close()
	if out.csv != nil {
		cfg.OnRound = func(rec *watch.Record) {
			if err := out.csv.round(rec); err != nil {
				fmt.Fprintf(stderr, "leapsmear: %v: no more rows are written until the watch ends; the watch goes on\n", err)
			}
		}
	}

	fmt.Fprintf(stderr, "watching %d server(s) every %v for %v: at most %d requests (Ctrl-C stops early)\n",
		len(cfg.Servers), cfg.Every, cfg.For, cfg.Requests())
	rec, err := watch.Watch(ctx, cfg)
	if err != nil && rec == nil {
		out.remove()
		return err
	}
	if err != nil {
		fmt.Fprintf(stderr, "stopped early after %d round(s)\n", len(rec.Rounds))
	}
	if len(rec.Rounds) == 0 {
		out.remove()
		return errors.New("watch: no round was made")
	}
	if opt.Leap.IsZero() {
		opt.Leap = tableLeap(rec.Rounds[0].At, rec.Rounds[len(rec.Rounds)-1].At)
	}
	sum := watch.Summarize(rec, opt, sopt)

	var failed []error
	if out.csv != nil {
		if err := out.csv.finish(rec, sopt); err != nil {
			failed = append(failed, err)
		}
	}
	if out.svg != nil {
		if err := out.writeChart(report.Chart(rec, sum, sopt)); err != nil {
			failed = append(failed, err)
		}
	}
	if o.json {
		err = report.WriteJSON(stdout, sum)
	} else {
		err = report.WriteText(stdout, sum)
	}
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	silent := 0
	for _, s := range sum.Servers {
		if s.Answered == 0 {
			silent++
			fmt.Fprintf(stderr, "leapsmear: %s never answered: %v\n", s.Server, s.Err)
		}
	}
	if len(failed) > 0 {
		for _, err := range failed[1:] {
			fmt.Fprintf(stderr, "leapsmear: %v\n", err)
		}
		return failed[0]
	}
	if silent > 0 {
		return fmt.Errorf("%d of %d servers never answered", silent, len(sum.Servers))
	}
	return nil
}

// watchOutputs are the files of --csv and --svg, opened before the watch.
type watchOutputs struct {
	csv     *csvOutput
	svg     *os.File
	svgPath string
}

// open creates the files named by o, or says which flag names a file that
// cannot be written and how to fix it.
func (w *watchOutputs) open(o watchOptions) error {
	if o.csv != "" && o.svg != "" && filepath.Clean(o.csv) == filepath.Clean(o.svg) {
		return usagef("watch: --csv and --svg both name %s: give each its own file", o.csv)
	}
	if o.csv != "" {
		c, err := createCSV(o.csv)
		if err != nil {
			return outputError("--csv", o.csv, err)
		}
		w.csv = c
	}
	if o.svg != "" {
		f, err := os.Create(o.svg)
		if err != nil {
			w.remove()
			return outputError("--svg", o.svg, err)
		}
		w.svg, w.svgPath = f, o.svg
	}
	return nil
}

// outputError is the usage error of an output file that cannot be created.
func outputError(flag, path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return usagef("watch: %s %s: %w: name a file in a directory that exists and that you may write to", flag, path, err)
}

// writeChart writes the chart into the --svg file, as PNG if it ends in .png.
func (w *watchOutputs) writeChart(c plot.Chart) error {
	format := plot.SVG
	if strings.EqualFold(filepath.Ext(w.svgPath), ".png") {
		format = plot.PNG
	}
	err := c.Write(w.svg, format)
	if cerr := w.svg.Close(); err == nil {
		err = cerr
	}
	w.svg = nil
	if err != nil {
		return fmt.Errorf("watch: --svg %s: %w", w.svgPath, err)
	}
	return nil
}

// remove deletes the files opened, when the watch saw nothing to put in them.
func (w *watchOutputs) remove() {
	if w.csv != nil {
		w.csv.f.Close()
		os.Remove(w.csv.path)
		w.csv = nil
	}
	if w.svg != nil {
		w.svg.Close()
		os.Remove(w.svgPath)
		w.svg = nil
	}
}

// close closes what is still open.
func (w *watchOutputs) close() {
	if w.csv != nil && w.csv.f != nil {
		w.csv.f.Close()
	}
	if w.svg != nil {
		w.svg.Close()
	}
}

// csvOutput is the --csv file. Rows are appended as each round comes, with
// relative_ns empty (it needs the rounds after: watch.Align), so that a
// watch that crashes or is killed leaves a valid CSV file of every round
// it made. When the watch ends (also by SIGINT or SIGTERM), a regular file
// is written again in full, relative_ns included, into a temporary file
// beside it that then replaces it; a pipe or a device keeps the rows as
// they came.
type csvOutput struct {
	path    string
	f       *os.File
	rows    *report.CSV
	regular bool
	err     error // of the last round written, if writing failed
}

// createCSV creates the file and writes its header; for a regular file, it
// also checks that a file can be created beside it for the final rewrite.
func createCSV(path string) (*csvOutput, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	c := &csvOutput{path: path, f: f}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		c.regular = true
		tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
		if err != nil {
			f.Close()
			return nil, err
		}
		tmp.Close()
		os.Remove(tmp.Name())
	}
	if c.rows, err = report.NewCSV(f); err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

// round appends the rows of the last round of rec. After a failed write it
// writes nothing more (finish tries the whole file again); it returns the
// error of the first failure only.
func (c *csvOutput) round(rec *watch.Record) error {
	if c.err != nil {
		return nil
	}
	if c.err = c.rows.WriteRound(rec, len(rec.Rounds)-1); c.err != nil {
		return fmt.Errorf("watch: --csv %s: %w", c.path, c.err)
	}
	return nil
}

// finish closes the file and, for a regular file, replaces it with the
// whole record, relative offsets included.
func (c *csvOutput) finish(rec *watch.Record, sopt watch.SpreadOptions) error {
	f := c.f
	c.f = nil
	if err := f.Close(); err != nil && c.err == nil {
		c.err = err
	}
	if !c.regular {
		if c.err != nil {
			return fmt.Errorf("watch: --csv %s: %w", c.path, c.err)
		}
		return nil
	}
	if err := replaceFile(c.path, func(w io.Writer) error { return report.WriteCSV(w, rec, sopt) }); err != nil {
		return fmt.Errorf("watch: --csv %s: %w (the rows written during the watch are kept, without relative_ns)", c.path, err)
	}
	return nil
}

// replaceFile writes path anew through a temporary file beside it, renamed
// over it once complete, so that path is whole at every moment. The new file
// keeps the old one's permissions.
func replaceFile(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if st, err := os.Stat(path); err == nil {
		if err := tmp.Chmod(st.Mode().Perm()); err != nil {
			return err
		}
	}
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	done = true
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
