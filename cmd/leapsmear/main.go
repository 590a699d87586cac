// Command leapsmear serves leap-smeared time over NTP and offers the tools
// around it: leap tables, smear policies, queries, fleet watching and load.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/internal/option"
)

// commands holds the constructors of every subcommand; each file adds its own
// from an init function, so that a new command touches one file only.
var commands []func() *cobra.Command

func register(newCmd func() *cobra.Command) { commands = append(commands, newCmd) }

// usageError marks a mistake in the command line, reported with exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error: a wrong flag value or argument.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// optionError turns a library's validation error into a usage error naming
// the flag ("serve: --rate-limit NaN: ..."); other errors pass unchanged.
func optionError(command string, err error) error {
	if oe, ok := option.As(err); ok {
		return usagef("%s: %s", command, oe.Flag())
	}
	return err
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "leapsmear",
		Short: "Serve leap-smeared time over NTP, and the tools around it",
		Long: `leapsmear serves time over NTP (RFC 5905) with leap seconds smeared away:
instead of repeating or skipping a second, the served clock runs slightly slow
(or fast) for a while, so that clients never see time jump.

The smear is a pure function of the leap table, the policy and the time, so
every server of a fleet given the same table and policy serves the same time,
and a restart in the middle of a smear changes nothing.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	for _, newCmd := range commands {
		root.AddCommand(newCmd())
	}
	return root
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and returns the exit status: 0 on success,
// 2 for a usage mistake, 1 for any other failure.
func run(args []string) int { return runWith(args, os.Stdout, os.Stderr) }

// runWith is run writing to the given streams, so tests can read the output.
func runWith(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "leapsmear: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
