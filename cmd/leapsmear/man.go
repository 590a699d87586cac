package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func init() { register(newManCmd) }

// newManCmd writes the manual pages of every command, generated from the
// commands themselves so that they say what --help says. It is hidden: the
// Debian package and release/build.sh run it, and docs/install.md shows it
// for installs from source.
func newManCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the manual pages of every command into DIR (section 1)",
		Hidden: true,
		Long: `Write one manual page per command into DIR, which is created if missing:
leapsmear.1, leapsmear-serve.1, leapsmear-query.1 and so on. The page date is
$SOURCE_DATE_EPOCH when set (release/build.sh sets the commit's time, so that
the pages of a release are reproducible), today otherwise.`,
		Example: `  leapsmear man /usr/local/share/man/man1 && mandb -q
  man leapsmear-serve`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("%s takes one argument, the directory, got %q", cmd.CommandPath(), args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeManPages(cmd.Root(), args[0])
		},
	}
}

// writeManPages writes the pages of root and every visible subcommand to dir.
func writeManPages(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	// The version line names this build; the "Auto generated" footer
	// would only add a date that differs between builds.
	root.DisableAutoGenTag = true
	version, _, _ := strings.Cut(versionString(), ",")
	header := &doc.GenManHeader{
		Section: "1",
		Source:  "leapsmear " + version,
		Manual:  "leapsmear manual",
	}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("man pages in %s: %w", dir, err)
	}
	return nil
}
