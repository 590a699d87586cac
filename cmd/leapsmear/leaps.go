package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapcheck"
	"github.com/leapsmear/leapsmear/leapsource"
	"github.com/leapsmear/leapsmear/timescale"
)

func init() { register(newLeapsCmd) }

// readKernel reads the host clock state: serve's sync status and kernel leap
// source, and leaps' kernel source; tests replace it to arm a leap or to
// unsynchronise the host without touching the kernel.
var readKernel = timescale.ReadKernel

// leapSourceFlags are the flags that name the sources compared with the
// table, shared by leaps and serve.
type leapSourceFlags struct {
	upstream []string
	chrony   string
	ptp      string
	kernel   bool
	months   string
	timeout  time.Duration
}

func (f *leapSourceFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.upstream, "upstream", nil, "upstream NTP server HOST:PORT whose leap indicator is compared with the table (repeatable)")
	fl.StringVar(&f.chrony, "chrony-socket", "", "chronyd's command socket, whose tracking leap status is compared with the table,\nsuch as "+leapsource.DefaultChronySocket)
	fl.StringVar(&f.ptp, "ptp-socket", "", "ptp4l's management socket, whose time properties (leap61, leap59) are compared with the table,\nsuch as "+leapsource.DefaultPTPSocket)
	fl.BoolVar(&f.kernel, "kernel", true, "compare the leap the host kernel has armed (adjtimex, read-only) with the table")
	fl.StringVar(&f.months, "leap-months", "june,december", "months at whose end a source may announce a leap second: names or numbers, or any")
	fl.DurationVar(&f.timeout, "source-timeout", leapsource.DefaultTimeout, "how long to wait for each source")
}

// parseMonths reads --leap-months; empty means the default (June and
// December).
func (f *leapSourceFlags) parseMonths() (leapcheck.Months, error) {
	if f.months == "" {
		return 0, nil
	}
	m, err := leapcheck.ParseMonths(f.months)
	if err != nil {
		return 0, usagef("--leap-months: %w", err)
	}
	return m, nil
}

// sources checks the flags and builds the sources they name.
func (f *leapSourceFlags) sources() ([]leapsource.Source, leapcheck.Options, error) {
	months, err := f.parseMonths()
	if err != nil {
		return nil, leapcheck.Options{}, err
	}
	if f.timeout <= 0 {
		return nil, leapcheck.Options{}, usagef("--source-timeout %s: must be positive", f.timeout)
	}
	var out []leapsource.Source
	if f.kernel {
		out = append(out, leapsource.NewKernel(readKernel))
	}
	for _, u := range f.upstream {
		if strings.TrimSpace(u) == "" || strings.ContainsAny(u, " /") {
			return nil, leapcheck.Options{}, usagef("--upstream %q: want HOST:PORT such as 192.0.2.1:123", u)
		}
		out = append(out, leapsource.NewNTP(u, client.Options{Timeout: f.timeout}))
	}
	if f.chrony != "" {
		out = append(out, leapsource.NewChrony(f.chrony))
	}
	if f.ptp != "" {
		out = append(out, leapsource.NewPTP(f.ptp))
	}
	return out, leapcheck.Options{Months: months}, nil
}

func newLeapsCmd() *cobra.Command {
	var (
		lf     leapFlags
		sf     leapSourceFlags
		atFlag string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "leaps [--leap-file F]... [--upstream HOST:PORT]... [--chrony-socket PATH] [--ptp-socket PATH] [--json]",
		Short: "Compare the leap seconds announced by the kernel, upstream servers, chronyd and ptp4l with the table",
		Long: `Compare what every source announces about upcoming leap seconds with the leap
table, once, for cron and CI. The sources are the table (--leap-file, or the
built-in one), the host kernel (the leap its time daemon armed for tonight,
read with adjtimex, never written), upstream NTP servers (--upstream: their
leap indicator, which names the end of the current month), chronyd on this
host (--chrony-socket: the leap status of its tracking report) and ptp4l
(--ptp-socket: leap61, leap59 and the UTC offset of its time properties data
set). The kernel's TAI offset and ptp4l's UTC offset, when set, must be the
table's TAI-UTC.

Verdict, for each leap date a source names (the worst is reported):
  none           nothing is announced
  agree          the table has the leap and another source announces it
  table-only     the table has a leap no other source announces yet (normal
                 until its last day; on that day a kernel that is not armed
                 means the host's daemon will step the host clock afterwards)
  unknown-leap   a source announces a leap the table does not have, and the
                 table has expired or does not reach that date: refresh it
  faulty-source  a source announces a leap on a date the unexpired table rules
                 out, or on an impossible date (not the end of a month of
                 --leap-months), or states a TAI-UTC other than the table's:
                 that source is wrong and is never followed
A source that cannot be read is an error, not a disagreement.

Exit status: 0 for none, agree or table-only; 1 for unknown-leap or
faulty-source, or when a source could not be read (the others are still
reported); 2 for a usage mistake.

With --json the output is one object:
  {"at": RFC 3339, "table": {"source", "expires", "expired"},
   "sources": [{"name", "kind": "table|kernel|ntp|chrony|ptp", "ok", "error",
                "announces": null or {"date", "sign", "effective"}}],
   "verdict": "none|agree|table-only|unknown-leap|faulty-source",
   "leap": null or {"date", "sign", "effective"}, "problems": [sentences]}
where date is the last UTC day before the leap (YYYY-MM-DD, as the --leap
flags take it) and effective the midnight after it (RFC 3339).`,
		Example: `  # The table, the kernel and two upstream servers
  leapsmear leaps --upstream 192.0.2.1:123 --upstream 192.0.2.2:123

  # Also chronyd on this host, as JSON, with the system's leap file
  leapsmear leaps --leap-file /usr/share/zoneinfo/leap-seconds.list \
      --chrony-socket /run/chrony/chronyd.sock --json

  # Judge as if it were the last day of 2027 (servers replaying that day)
  leapsmear leaps --upstream 127.0.0.1:11123 --at 2027-12-31T12:00:00Z`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			at := time.Now()
			if atFlag != "" {
				l, err := leap.ParseLabel(atFlag)
				if err != nil {
					return usagef("--at: %w", err)
				}
				at = l.Time
			}
			sources, opt, err := sf.sources()
			if err != nil {
				return err
			}
			table, _, err := lf.load(at)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			r := leapsource.Check(ctx, table, at, sources, sf.timeout, opt)
			out := cmd.OutOrStdout()
			if asJSON {
				err = writeLeapsJSON(out, r)
			} else {
				err = writeLeapsText(out, r)
			}
			if err != nil {
				return err
			}
			if r.Verdict.Failed() {
				return fmt.Errorf("verdict %s: %s", r.Verdict, r.Problems[0])
			}
			if bad := r.Unreadable(); len(bad) > 0 {
				return fmt.Errorf("%d source(s) could not be read: %s: %w", len(bad), bad[0].Name, bad[0].Err)
			}
			return nil
		},
	}
	lf.register(cmd)
	sf.register(cmd)
	cmd.Flags().StringVar(&atFlag, "at", "", "judge as if it were this instant (RFC 3339; default now): the table's expiry,\nthe month an upstream's leap indicator names and the kernel's day")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (see above)")
	return cmd
}

func writeLeapsJSON(w io.Writer, r leapcheck.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // the refresh commands hold "&&"
	return enc.Encode(r.Report())
}

func writeLeapsText(w io.Writer, r leapcheck.Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Leap announcements at %s\n", r.At.UTC().Format(time.RFC3339))
	width := 0
	for _, o := range r.Sources {
		width = max(width, len(o.Name)+len(o.Kind)+3)
	}
	for _, o := range r.Sources {
		label := fmt.Sprintf("%s (%s)", o.Name, o.Kind)
		var what string
		switch {
		case o.Err != nil:
			what = "ERROR: " + o.Err.Error()
		case o.Announces == nil:
			what = "announces nothing"
		default:
			what = fmt.Sprintf("announces %s (takes effect %s)", leapPhrase(*o.Announces), rfc3339(o.Announces.Effective()))
		}
		if o.Kind == leapcheck.KindTable {
			state := "expires " + orNone(r.TableExpires, "never stated")
			if r.TableExpired {
				state += ", EXPIRED"
			}
			what += "; " + state
		}
		fmt.Fprintf(&b, "  %-*s %s\n", width, label, what)
	}
	fmt.Fprintf(&b, "Verdict: %s", r.Verdict)
	if r.Leap != nil {
		fmt.Fprintf(&b, " (%s)", leapPhrase(*r.Leap))
	}
	b.WriteString("\n")
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  - %s\n", p)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// leapPhrase renders an announcement as "2027-12-31 23:59:60 +1" or
// "2027-12-31 23:59:59 deleted -1".
func leapPhrase(a leapcheck.Announcement) string {
	if a.Sign < 0 {
		return a.Date() + " 23:59:59 deleted -1"
	}
	return a.Date() + " 23:59:60 +1"
}
