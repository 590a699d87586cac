// Command leapsmear serves leap-smeared time over NTP and offers the tools
// around it: leap tables, smear policies, queries, fleet watching and load.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

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
		// --version on the root command only: query and watch have their
		// own --version, the NTP version of their requests.
		Version: versionString(),
	}
	root.SetVersionTemplate("leapsmear {{.Version}}\n")
	root.Flags().Bool("version", false, "print the version of this build (module version, VCS revision, Go version) and exit")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{flagValueError(cmd, err)} })
	root.SetHelpCommand(newHelpCmd(root))
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
	return runWithInput(args, os.Stdin, stdout, stderr)
}

// runWithInput is runWith reading standard input from stdin.
func runWithInput(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	msg, usage := err.Error(), false
	var ue usageError
	if errors.As(err, &ue) {
		usage = true
	}
	// cobra's own mistakes: an unknown command (with its suggestions on
	// lines of their own), made one line and a usage error.
	if strings.HasPrefix(msg, "unknown command ") {
		usage = true
		head, hints, _ := strings.Cut(msg, "\n")
		if fs := strings.Fields(strings.TrimPrefix(strings.TrimSpace(hints), "Did you mean this?")); len(fs) > 0 {
			head += " (did you mean " + strings.Join(fs, " or ") + "?)"
		}
		msg = head + "; 'leapsmear --help' lists the commands"
	}
	fmt.Fprintf(stderr, "leapsmear: %s\n", msg)
	if usage {
		return 2
	}
	return 1
}

// newHelpCmd is 'leapsmear help [command]', which refuses an unknown topic
// as a usage error (cobra's own prints the usage and succeeds).
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help prints the help of any command: leapsmear help serve.",
		RunE: func(cmd *cobra.Command, args []string) error {
			target, _, err := root.Find(args)
			if err != nil || target == nil || (len(args) > 0 && target == root) {
				return usagef("help %s: no such command; 'leapsmear --help' lists the commands", strings.Join(args, " "))
			}
			target.InitDefaultHelpFlag()
			return target.Help()
		},
	}
}

// flagValueError rewrites pflag's 'invalid argument "x" for "--stratum"
// flag: strconv.ParseUint: ...' as "--stratum x: want a whole number from 0
// to 255", in words instead of Go's parser errors.
func flagValueError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "invalid argument ")
	if !ok {
		return err
	}
	value, rest, ok1 := strings.Cut(rest, " for ")
	name, _, ok2 := strings.Cut(rest, " flag: ")
	if !ok1 || !ok2 {
		return err
	}
	name = strings.Trim(name, `"`)
	if i := strings.Index(name, "--"); i >= 0 {
		name = name[i+2:] // "-s, --samples" names the long form last
	}
	fl := cmd.Flags().Lookup(name)
	if fl == nil {
		return err
	}
	return fmt.Errorf("--%s %s: %s", name, value, valueHint(fl.Value.Type()))
}

// valueHint says in words what a flag of a pflag type takes.
func valueHint(typ string) string {
	switch typ {
	case "duration":
		return "want a duration such as 90s, 15m or 2h (units ns, us, ms, s, m, h)"
	case "bool":
		return "want true or false"
	case "int", "int64", "int32":
		return "want a whole number"
	case "uint8":
		return "want a whole number from 0 to 255"
	case "uint", "uint16", "uint32", "uint64":
		return "want a whole number, 0 or more"
	case "float64", "float32":
		return "want a number such as 0.125"
	}
	return "not a valid " + typ
}
