package daemon

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/leapsmear/leapsmear/internal/option"
)

// User is an unprivileged account the server can switch to after binding.
type User struct {
	Name     string
	UID, GID int
}

// LookupUser finds the account called name and checks that this process can
// switch to it: the account exists, is not root, and the process runs as
// root. Call it before starting, so that a wrong --user fails at once, before
// anything is bound or served.
func LookupUser(name string) (User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return User{}, option.Errorf("user", name, "%v", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return User{}, option.Errorf("user", name, "uid %q is not a number", u.Uid)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return User{}, option.Errorf("user", name, "gid %q is not a number", u.Gid)
	}
	if uid == 0 {
		return User{}, option.Errorf("user", name, "that is root; name an unprivileged user")
	}
	if os.Geteuid() != 0 {
		return User{}, option.Errorf("user", name, "only root can switch users (running as uid %d); under systemd use DynamicUser= and CAP_NET_BIND_SERVICE instead", os.Geteuid())
	}
	return User{Name: name, UID: uid, GID: gid}, nil
}

// Drop switches the whole process (every thread) to the user and that user's
// primary group, with no supplementary groups; the kernel then clears every
// capability. Call it after the sockets are bound: port 123 stays open, and
// nothing else a compromised process could do keeps root's rights. Leap
// files must then be readable by that user for SIGHUP reloads.
func (u User) Drop() error {
	// Go applies these to every thread of the process (Linux, Go 1.16+).
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("switching to user %s: setgroups: %w", u.Name, err)
	}
	if err := syscall.Setgid(u.GID); err != nil {
		return fmt.Errorf("switching to user %s: setgid %d: %w", u.Name, u.GID, err)
	}
	if err := syscall.Setuid(u.UID); err != nil {
		return fmt.Errorf("switching to user %s: setuid %d: %w", u.Name, u.UID, err)
	}
	// Make sure there is no way back.
	if err := syscall.Setuid(0); err == nil {
		return fmt.Errorf("switching to user %s: could regain root after dropping privileges", u.Name)
	}
	return nil
}
