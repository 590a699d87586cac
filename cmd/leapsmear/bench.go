package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/internal/netaddr"
	"github.com/leapsmear/leapsmear/internal/option"
	"github.com/leapsmear/leapsmear/loadgen"
)

func init() { register(newBenchCmd) }

// benchFlags are the options of leapsmear bench.
type benchFlags struct {
	target      string
	duration    time.Duration
	workers     int
	window      int
	rate        float64
	timeout     time.Duration
	json        bool
	allowRemote bool
	nts         ntsClientFlags
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench --target HOST:PORT --duration D [flags]",
		Short: "Load an NTP server with client requests and report how fast it answers",
		Long: `bench is a bounded load generator for NTP servers. Each worker owns a UDP
socket and keeps --window requests in flight: valid NTPv4 client requests
with random transmit timestamps, sent in sendmmsg batches. Replies are read
in recvmmsg batches and matched to their request by the origin timestamp; a
request unanswered after --timeout is lost. With --rate the requests are
capped at that many per second over all workers.

Sending stops after --duration (at most 60s); the replies in flight are
then awaited. The report gives the requests sent and answered, the answered
requests per second, and the 50th and 99th percentiles of the round-trip
time of answered requests (from the moment a request left to the kernel's
receive timestamp of its reply), plus the generator's own CPU time.

Only loopback targets (127.0.0.0/8, ::1) are accepted unless --allow-remote
is given: load a server you run, never someone else's.

With --nts, bench first does NTS-KE with the target's host (--nts-port,
--nts-ca) and checks that one authenticated exchange verifies; then it sends
NTS-authenticated requests built once each (2 x workers x window of them,
each resent once its reply came), so that the server's cost per reply is
measured, not the generator's sealing.

--json prints one object with exactly the keys sent, answered,
answered_per_s, p50_us and p99_us. The exit status is 1 when no request was
answered.`,
		Example: `  # Ten seconds against a local leapsmear serve
  leapsmear bench --target 127.0.0.1:11123 --duration 10s

  # Four sockets, for scripts
  leapsmear bench --target 127.0.0.1:11123 --duration 5s --workers 4 --json

  # NTS-authenticated requests (NTS-KE on port 4460 of the target's host)
  leapsmear bench --target 127.0.0.1:123 --duration 10s --nts --nts-ca ca.pem

  # A steady 50000 requests per second, to read latency at a known load
  leapsmear bench --target 127.0.0.1:11123 --duration 30s --rate 50000`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			ntsOpts, err := f.nts.options("bench")
			if err != nil {
				return err
			}
			if ntsOpts != nil {
				if cfg.Templates, err = ntsTemplates(ctx, cfg.Target, ntsOpts, 2*cfg.Workers*cfg.Window, 5*time.Second); err != nil {
					return fmt.Errorf("bench %s: --nts: %w", cfg.Target, err)
				}
			}
			res, err := loadgen.Run(ctx, cfg)
			if err != nil {
				return fmt.Errorf("bench %s: %w", cfg.Target, err)
			}
			if f.json {
				err = writeBenchJSON(cmd.OutOrStdout(), &res)
			} else {
				writeBenchText(cmd.OutOrStdout(), cfg, &res)
			}
			if err != nil {
				return err
			}
			if res.Answered == 0 {
				why := "no reply came back"
				switch {
				case errors.Is(res.LastError, syscall.ECONNREFUSED):
					why = "connection refused: nothing listens on that port"
				case res.LastError != nil:
					why = res.LastError.Error()
				}
				return fmt.Errorf("bench %s: no request was answered (%d sent): %s", cfg.Target, res.Sent, why)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.target, "target", "", "server to load, HOST:PORT (loopback unless --allow-remote)")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "how long to send requests (at most 60s)")
	fl.IntVar(&f.workers, "workers", loadgen.DefaultWorkers, "sockets, each with its own goroutine")
	fl.IntVar(&f.window, "window", loadgen.DefaultWindow, fmt.Sprintf("requests in flight per worker (1 to %d)", loadgen.MaxWindow))
	fl.Float64Var(&f.rate, "rate", 0, "cap on requests per second over all workers (0: as fast as the server answers)")
	fl.DurationVar(&f.timeout, "timeout", loadgen.DefaultTimeout, "how long a request waits for its reply before it counts as lost")
	fl.BoolVar(&f.json, "json", false, "print {sent, answered, answered_per_s, p50_us, p99_us} as JSON")
	fl.BoolVar(&f.allowRemote, "allow-remote", false, "allow a target outside loopback")
	f.nts.register(cmd)
	return cmd
}

// config checks the flags and turns them into a load run.
func (f *benchFlags) config() (loadgen.Config, error) {
	if f.target == "" {
		return loadgen.Config{}, usagef("bench: --target HOST:PORT is required")
	}
	target, err := netaddr.Resolve(context.Background(), f.target, 0)
	if err != nil {
		return loadgen.Config{}, usagef("bench: --target: %w", err)
	}
	cfg := loadgen.Config{Target: target, Duration: f.duration, Workers: f.workers, Window: f.window, Rate: f.rate,
		Timeout: f.timeout, AllowRemote: f.allowRemote}
	if err := cfg.Validate(); err != nil {
		if oe, ok := option.As(err); ok && oe.Name == "target" && target.Port() != 0 {
			return cfg, usagef("bench: %s; --allow-remote loads it anyway", oe.Flag())
		}
		return cfg, optionError("bench", err)
	}
	return cfg, nil
}

// benchJSON is the --json output; its keys are a contract with scripts
// (bench/compare.sh reads them).
type benchJSON struct {
	Sent         uint64  `json:"sent"`
	Answered     uint64  `json:"answered"`
	AnsweredPerS float64 `json:"answered_per_s"`
	P50us        float64 `json:"p50_us"`
	P99us        float64 `json:"p99_us"`
}

func micros(d time.Duration) float64 { return math.Round(float64(d)/100) / 10 }

func writeBenchJSON(w io.Writer, r *loadgen.Result) error {
	return json.NewEncoder(w).Encode(benchJSON{
		Sent: r.Sent, Answered: r.Answered,
		AnsweredPerS: math.Round(r.AnsweredPerSecond()*10) / 10,
		P50us:        micros(r.Latency.Quantile(0.50)),
		P99us:        micros(r.Latency.Quantile(0.99)),
	})
}

func writeBenchText(w io.Writer, cfg loadgen.Config, r *loadgen.Result) {
	rate := "unlimited"
	if cfg.Rate > 0 {
		rate = fmt.Sprintf("%.0f/s", cfg.Rate)
	}
	fmt.Fprintf(w, "target          %s for %s: %d workers x %d in flight, rate %s\n",
		cfg.Target, r.Elapsed.Round(time.Millisecond), cfg.Workers, cfg.Window, rate)
	pct := 0.0
	if r.Sent > 0 {
		pct = 100 * float64(r.Answered) / float64(r.Sent)
	}
	fmt.Fprintf(w, "sent            %d\n", r.Sent)
	fmt.Fprintf(w, "answered        %d (%.2f%%)\n", r.Answered, pct)
	fmt.Fprintf(w, "answered/s      %.0f\n", r.AnsweredPerSecond())
	fmt.Fprintf(w, "latency         p50 %.1f us, p99 %.1f us\n", micros(r.Latency.Quantile(0.5)), micros(r.Latency.Quantile(0.99)))
	if r.Kissed+r.Unmatched+r.Malformed+r.Errors > 0 {
		fmt.Fprintf(w, "not answered    %d kiss-o'-death, %d unmatched, %d malformed replies; %d socket errors\n",
			r.Kissed, r.Unmatched, r.Malformed, r.Errors)
	}
	perReq := 0.0
	if r.Sent > 0 {
		perReq = float64(r.CPU.Microseconds()) / float64(r.Sent)
	}
	fmt.Fprintf(w, "generator CPU   %.2f s (%.2f cores, %.2f us per request)\n",
		r.CPU.Seconds(), r.CPU.Seconds()/r.Elapsed.Seconds(), perReq)
}
