package daemon

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// DropPrivileges switches the whole process (every thread) to the named user
// and that user's primary group, with no supplementary groups. Call it after
// the sockets are bound: port 123 stays open, and nothing else a compromised
// process could do keeps root's rights. Leap files must then be readable by
// that user for SIGHUP reloads.
func DropPrivileges(name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("--user %s: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("--user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("--user %s: gid %q: %w", name, u.Gid, err)
	}
	if uid == 0 {
		return fmt.Errorf("--user %s: that is root; name an unprivileged user", name)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("--user %s: only root can switch users (running as uid %d); under systemd use DynamicUser= and CAP_NET_BIND_SERVICE instead", name, os.Geteuid())
	}
	// Go applies these to every thread of the process (Linux, Go 1.16+).
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("--user %s: setgroups: %w", name, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("--user %s: setgid %d: %w", name, gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("--user %s: setuid %d: %w", name, uid, err)
	}
	// Make sure there is no way back.
	if err := syscall.Setuid(0); err == nil {
		return fmt.Errorf("--user %s: could regain root after dropping privileges", name)
	}
	return nil
}
