package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapfile"
)

func init() { register(newTableCmd) }

func newTableCmd() *cobra.Command {
	var (
		lf     leapFlags
		atFlag string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "table [--leap-file F]... [--at TIME] [--json]",
		Short: "Show the leap-second table, its source, verification, expiry and next leap",
		Long: `Show the leap-second table leapsmear would use: where it comes from, whether
its integrity was verified, when it was updated and when it expires, every
leap second since 1972, and the next leap second after --at (default: now).

With no --leap-file, the table built into leapsmear is shown (the IERS
leap-seconds.list of its release). Three formats are read, detected from the
content:
  - the IETF/IERS leap-seconds.list, whose #h SHA-1 checksum is verified;
  - tzdata's leapseconds text file (Leap and Expires lines);
  - a TZif file of version 2 or later with leap records (right/UTC).
The last two carry no checksum: they count as verified when every event
agrees with the built-in table.

Give --leap-file several times to cross-check files: their differences are
printed, and if they contradict each other (or the built-in table) on a leap
second they both cover, the command exits with status 1.

An expired table is shown with a warning, never refused. A corrupt or
tampered file (bad syntax, checksum mismatch, invalid events) makes the
command exit with status 1 and one line naming the file and the reason.

With --json the output is one object with exactly these keys:
  source         the table's source (path, or "embedded leap-seconds.list")
  verified       whether its checksum matched or it was corroborated
  updated        last update (RFC 3339), or null when the file states none
  expires        expiry (RFC 3339), or null when the file states none
  expired        whether it has expired at --at (true when it states no expiry)
  leaps          [{"effective": RFC 3339 instant (00:00:00 UTC) the leap takes
                 effect, "tai_utc": TAI-UTC from then on, "delta": +1 or -1}],
                 without the 1972 base offset of 10 s
  next           the first entry of leaps after --at, or null
  disagreements  the contradictions found between the sources, as sentences
When the files disagree, the object describes the first file.`,
		Example: `  # The built-in table and the next leap second from now
  leapsmear table

  # The system's tzdata files, cross-checked, as JSON
  leapsmear table --leap-file /usr/share/zoneinfo/leap-seconds.list \
      --leap-file /usr/share/zoneinfo/leapseconds \
      --leap-file /usr/share/zoneinfo/right/UTC --json

  # Which leap second came next on a past date
  leapsmear table --at 2016-06-01T00:00:00Z`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("table takes no arguments, got %q (files go after --leap-file)", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			at := time.Now()
			var atLabel *leap.Label
			if atFlag != "" {
				l, err := leap.ParseLabel(atFlag)
				if err != nil {
					return usagef("--at: %w", err)
				}
				at, atLabel = l.Time, &l
			}
			t, rep, err := lf.load(at)
			if atLabel != nil && t != nil {
				// 23:59:60 only where the table inserts a second, as offset
				// takes it.
				if _, lerr := t.TAIFromLabel(*atLabel); lerr != nil {
					return usagef("--at: %w", lerr)
				}
			}
			if err != nil && len(rep.Sources) == 0 {
				return err
			}
			shown := t
			if shown == nil {
				shown = rep.Sources[0]
			}
			out := cmd.OutOrStdout()
			var werr error
			if asJSON {
				werr = writeTableJSON(out, shown, rep, at)
				if err == nil {
					for _, w := range tableWarnings(shown, at) {
						fmt.Fprintf(cmd.ErrOrStderr(), "leapsmear: warning: %s\n", w)
					}
				}
			} else {
				werr = writeTableText(out, shown, rep, at)
			}
			if err != nil {
				return err
			}
			return werr
		},
	}
	lf.register(cmd)
	cmd.Flags().StringVar(&atFlag, "at", "", "instant for expiry and the next leap, RFC 3339 (default now), e.g. 2016-12-31T23:59:60Z")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (see above for its keys)")
	return cmd
}

// tableJSON is the stable JSON contract of "leapsmear table --json".
type tableJSON struct {
	Source        string     `json:"source"`
	Verified      bool       `json:"verified"`
	Updated       *string    `json:"updated"`
	Expires       *string    `json:"expires"`
	Expired       bool       `json:"expired"`
	Leaps         []leapJSON `json:"leaps"`
	Next          *leapJSON  `json:"next"`
	Disagreements []string   `json:"disagreements"`
}

type leapJSON struct {
	Effective string `json:"effective"`
	TAIUTC    int    `json:"tai_utc"`
	Delta     int    `json:"delta"`
}

func newLeapJSON(e leap.Event) leapJSON {
	return leapJSON{Effective: rfc3339(e.Effective), TAIUTC: e.TAIUTC, Delta: e.Delta}
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// optionalTime is RFC 3339, or nil (JSON null) for the zero time.
func optionalTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := rfc3339(t)
	return &s
}

func writeTableJSON(w io.Writer, t *leap.Table, rep leapfile.Report, at time.Time) error {
	j := tableJSON{
		Source:        t.Source,
		Verified:      t.Verified,
		Updated:       optionalTime(t.Updated),
		Expires:       optionalTime(t.Expires),
		Expired:       t.Expired(at),
		Leaps:         make([]leapJSON, 0, len(t.Events)),
		Disagreements: []string{},
	}
	for _, e := range t.Events {
		j.Leaps = append(j.Leaps, newLeapJSON(e))
	}
	if e, ok := t.Next(at); ok {
		n := newLeapJSON(e)
		j.Next = &n
	}
	for _, d := range rep.Conflicts() {
		j.Disagreements = append(j.Disagreements, d.String())
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}

// leapLine renders an event as "1972-06-30 23:59:60 +1 TAI-UTC 11".
func leapLine(e leap.Event) string {
	switch {
	case e.Synthetic:
		return fmt.Sprintf("%s %+d TAI-UTC %d (rehearsal)", rfc3339(e.Effective), e.Delta, e.TAIUTC)
	case e.Delta < 0:
		return fmt.Sprintf("%s 23:59:59 %+d TAI-UTC %d (second deleted)", e.Day().Format(time.DateOnly), e.Delta, e.TAIUTC)
	}
	return fmt.Sprintf("%s 23:59:60 %+d TAI-UTC %d", e.Day().Format(time.DateOnly), e.Delta, e.TAIUTC)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func writeTableText(w io.Writer, t *leap.Table, rep leapfile.Report, at time.Time) error {
	var b strings.Builder
	if len(rep.Sources) > 1 {
		fmt.Fprintf(&b, "Sources (%d):\n", len(rep.Sources))
		for _, s := range rep.Sources {
			last := "no leaps"
			if e, ok := s.Last(); ok {
				last = "last " + leapLine(e)
			}
			state := "in force"
			if s.Expired(at) {
				state = "EXPIRED"
			}
			fmt.Fprintf(&b, "  %s\n    %s; verified: %s (%s); expires %s (%s); %d leaps, %s\n",
				s.Source, s.Format, yesNo(s.Verified), s.Verification, orNone(s.Expires, "never stated"), state, len(s.Events), last)
		}
		if len(rep.Differences) == 0 {
			b.WriteString("The sources agree in every respect.\n")
		} else {
			b.WriteString("Differences:\n")
			for _, d := range rep.Differences {
				mark := ""
				if d.Conflict {
					mark = "DISAGREEMENT: "
				}
				fmt.Fprintf(&b, "  %s%s\n", mark, d)
			}
		}
		if rep.Chosen == nil {
			fmt.Fprintf(&b, "No table chosen: the sources disagree. Showing the first:\n\n")
		} else {
			fmt.Fprintf(&b, "Using %s:\n\n", t.Source)
		}
	} else if cs := rep.Conflicts(); len(cs) > 0 {
		b.WriteString("DISAGREEMENTS:\n")
		for _, d := range cs {
			fmt.Fprintf(&b, "  %s\n", d)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Leap-second table %s", t.Source)
	if t.Format != "" {
		fmt.Fprintf(&b, " (%s)", t.Format)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  verified: %s, %s\n", yesNo(t.Verified), t.Verification)
	fmt.Fprintf(&b, "  updated:  %s\n", orNone(t.Updated, "not stated"))
	fmt.Fprintf(&b, "  expires:  %s\n", orNone(t.Expires, "not stated"))
	for _, warn := range tableWarnings(t, at) {
		fmt.Fprintf(&b, "  WARNING: %s\n", warn)
	}
	fmt.Fprintf(&b, "\nTAI-UTC %d s from 1972-01-01, then %d leap seconds:\n", t.Base, len(t.Events))
	for _, e := range t.Events {
		fmt.Fprintf(&b, "  %s\n", leapLine(e))
	}
	fmt.Fprintf(&b, "\nNext leap second after %s: ", rfc3339(at))
	switch e, ok := t.Next(at); {
	case ok:
		fmt.Fprintf(&b, "%s (takes effect %s)\n", leapLine(e), rfc3339(e.Effective))
	case t.Expired(at):
		b.WriteString("none known; the table has expired and may miss newer ones\n")
	default:
		fmt.Fprintf(&b, "none scheduled before expiry (%s)\n", rfc3339(t.Expires))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orNone(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return rfc3339(t)
}
