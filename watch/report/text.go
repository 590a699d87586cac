package report

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/textfmt"
	"github.com/leapsmear/leapsmear/watch"
)

// WriteText writes the summary as 'leapsmear watch' prints it: a line on
// the span watched, a table with one row per server, the fleet spread, and
// notes. A server that never answered shows "no answer" where its total
// offset would be; one with too few answers to classify, "-".
func WriteText(w io.Writer, sum watch.Summary) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "watched %s to %s: %d rounds every %v\n\n", textfmt.Time(sum.Start), textfmt.Time(sum.End), sum.Rounds, sum.Every)
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tCLASS\tSHAPE\tPOLICY\tWINDOW (UTC)\tTOTAL OFFSET\tMAX RATE\tMAX UTC OFFSET\tANSWERED")
	var notes []string
	for _, s := range sum.Servers {
		window, total, rate, maxOff := "-", "-", "-", "-"
		switch s.Class {
		case watch.ClassStep:
			window = "between " + clock(s.Start) + " and " + clock(s.End)
			rate = "(a jump)"
		case watch.ClassSmear:
			window = fmt.Sprintf("%s to %s (%v)", clock(s.Start), clock(s.End), s.End.Sub(s.Start).Round(time.Millisecond))
			rate = fmt.Sprintf("%.1f ppm", s.MaxRatePPM)
			if !s.Complete {
				notes = append(notes, s.Server+": the watch began or ended during the change: watch longer to see its shape and total")
			}
		case watch.ClassNone:
			rate = fmt.Sprintf("%.3f ppm", s.MaxRatePPM)
		}
		switch {
		case s.Measured():
			total = textfmt.Seconds(s.TotalOffset, true) + " s"
		case s.Answered == 0:
			total = "no answer"
		}
		if !s.Leap.IsZero() {
			maxOff = textfmt.Seconds(s.MaxOffset, true) + " s"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\n", s.Server, s.Class, orDash(s.Shape), orDash(s.Policy), window,
			total, rate, maxOff, s.Answered, s.Answered+s.Lost)
	}
	tw.Flush()
	fmt.Fprintln(ew)
	if a, b, ok := sum.SpreadBetween(); ok {
		fmt.Fprintf(ew, "fleet spread: %s s at %s between %s and %s\n  (the largest difference between two servers at the same instant, over %d rounds)\n",
			textfmt.Seconds(sum.Spread.Max, false), clock(sum.Spread.At), a, b, sum.Spread.Rounds)
	} else {
		fmt.Fprintln(ew, "fleet spread: no round compared two servers")
	}
	// What servers declared about smearing (nothing is said of those that
	// declared nothing, most servers outside a window).
	for _, s := range sum.Servers {
		d := s.Declared
		if s.Answered == 0 || d.Smearing == client.SmearUnknown {
			continue
		}
		what := "smeared time"
		if d.Smearing == client.SmearNo {
			what = "time that is not smeared"
		}
		fmt.Fprintf(ew, "%s declares %s: %s\n", s.Server, what, d.Evidence)
		if i := d.Info; i != nil && i.Leap != "" {
			fmt.Fprintf(ew, "  next leap %s: window %s to %s\n", i.Leap, i.Opens, i.Closes)
		}
	}
	if sum.Mixed != nil {
		fmt.Fprintln(ew, "warning:", sum.Mixed)
	}
	for _, n := range notes {
		fmt.Fprintln(ew, "note:", n)
	}
	if ew.err != nil {
		return fmt.Errorf("text: %w", ew.err)
	}
	return nil
}

// errWriter keeps the first error of its writes and drops the rest.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// clock is an instant's time of day in UTC with milliseconds.
func clock(t time.Time) string { return t.UTC().Format("15:04:05.000") }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
