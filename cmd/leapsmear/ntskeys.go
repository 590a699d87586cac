package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/nts"
)

func init() { register(newNTSKeysCmd) }

func newNTSKeysCmd() *cobra.Command {
	var rotate time.Duration
	var accept int
	var out string
	cmd := &cobra.Command{
		Use:   "nts-keys",
		Short: "Make an NTS cookie key file for a fleet (serve --nts-key-file)",
		Long: `nts-keys writes a new NTS cookie key file: one random 256-bit secret and
the rotation schedule. Give the same file to every server of a fleet
(serve --nts-key-file): each derives the same cookie key for each rotation
period from the file and the time, so a cookie from one server is accepted by
all, and across restarts. Keep it secret: whoever has it can read the keys of
every client's cookies. See docs/nts.md for replacing a secret.`,
		Example: `  leapsmear nts-keys -o /etc/leapsmear/nts.keys
  leapsmear nts-keys --rotate 6h --accept 28 > nts.keys`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kf, err := nts.NewKeyFile(rand.Reader)
			if err != nil {
				return err
			}
			kf.Rotation, kf.Accept = rotate, accept
			text := kf.Format()
			if _, err := nts.ParseKeyFile(text); err != nil {
				return usagef("nts-keys: %w", err)
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(text)
				return err
			}
			if err := os.WriteFile(out, text, 0o600); err != nil {
				return fmt.Errorf("nts-keys: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&rotate, "rotate", nts.DefaultRotation, "how often the cookie key changes (1m to 366 days)")
	cmd.Flags().IntVar(&accept, "accept", nts.DefaultAccept, "previous rotation periods whose cookies are still accepted (0 to 64)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the file here (mode 0600) instead of standard output")
	return cmd
}
