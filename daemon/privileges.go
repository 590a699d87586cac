package daemon

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

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
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			// In words, keeping os/user's error as the cause.
			e := option.Errorf("user", name, "no such account on this host; create one (useradd --system %s) or name another", name)
			e.Err = err
			return User{}, e
		}
		return User{}, option.Errorf("user", name, "%w", err)
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

// ErrThreadsNotHardened is returned (wrapped) by Drop when the binary was
// built with cgo, where the kernel's per-thread settings (no_new_privs, the
// capability bounding set) cannot be applied to every thread: the switch of
// user happened, and the release build (CGO_ENABLED=0) does not have this
// limit.
var ErrThreadsNotHardened = errors.New("no_new_privs and the capability bounding set are per thread, and a binary built with cgo cannot set them on every thread; build with CGO_ENABLED=0")

// Drop switches the whole process (every thread) to the user and that user's
// primary group, with no supplementary groups; the kernel then clears every
// capability. It also empties the capability bounding set and sets
// no_new_privs on every thread, so that nothing the process could execute
// regains a privilege. Call it after the sockets are bound: port 123 stays
// open, and nothing else a compromised process could do keeps root's rights.
// Leap files must then be readable by that user for SIGHUP reloads.
func (u User) Drop() error {
	// While still root (CAP_SETPCAP): empty the bounding set, on every
	// thread; then no_new_privs. AllThreadsSyscall refuses in a cgo binary.
	hardened := true
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); e == syscall.ENOTSUP {
			hardened = false
			break
		} else if e != 0 && e != syscall.EINVAL { // EINVAL: a capability this kernel does not know
			return fmt.Errorf("switching to user %s: dropping capability %d from the bounding set: %w", u.Name, c, e)
		}
	}
	if hardened {
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); e != 0 {
			return fmt.Errorf("switching to user %s: no_new_privs: %w", u.Name, e)
		}
	}
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
	if !hardened {
		return fmt.Errorf("switched to user %s, but %w", u.Name, ErrThreadsNotHardened)
	}
	return nil
}
