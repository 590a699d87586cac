// Package interop holds tests only: they build the leapsmear binary, start
// `leapsmear serve` as a subprocess on a loopback port (or on port 123 inside
// a network namespace the test creates) and check that real NTP clients —
// chronyd (one-shot -Q and continuous -x with its measurement logs), ntpsec's
// ntpdig and the Go client github.com/beevik/ntp — accept it and measure the
// offsets the smear policy predicts, including a replay of the 2016 leap
// second. It also checks the server's signal handling (SIGHUP reloads,
// SIGTERM and SIGINT stop), that a restart after SIGKILL in the middle of a
// smear serves the same curve, that bad leap files are refused in one line
// at start and kept out on SIGHUP, and that the server binds port 123 and
// drops its privileges (--user, or CAP_NET_BIND_SERVICE alone), and that
// servers compare the leap seconds their upstream servers (leapsmear
// processes rehearsing a leap) announce with their table: they agree, adopt
// an announced leap, and `leapsmear leaps` reports an unknown one. No client is
// ever allowed to touch the clock.
//
// Tests skip where a client or a permission is missing, and fail instead
// when LEAPSMEAR_REQUIRE_INTEROP=1 (see internal/testenv). See
// docs/interop.md.
package interop
