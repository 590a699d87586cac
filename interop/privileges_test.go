package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/testenv"
)

// needNetns returns the paths of unshare and ip, skipping (or failing, in
// CI) unless this process can create a network namespace and bring its
// loopback up.
func needNetns(t *testing.T) (unshare, ip string) {
	t.Helper()
	unshare = testenv.Program(t, "unshare", "util-linux")
	ip = testenv.Program(t, "ip", "iproute2")
	if out, err := exec.Command(unshare, "-n", ip, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		testenv.Need(t, false, "cannot create a network namespace with unshare -n ("+strings.TrimSpace(string(out))+")")
	}
	return unshare, ip
}

// addNetns creates the network namespace name with ip (ip netns add),
// deleted when the test ends, skipping (or failing, in CI) unless this
// process may (it needs root).
func addNetns(t *testing.T, ip, name string) {
	t.Helper()
	out, err := exec.Command(ip, "netns", "add", name).CombinedOutput()
	testenv.Need(t, err == nil, fmt.Sprintf("cannot create network namespaces (ip netns add: %v: %s); run as root", err, out))
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", name).Run() })
}

// mustRun runs a command line, failing the test with its output when it
// fails.
func mustRun(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// inNetns is a wrapper (see startWrapped) that runs its command in a network
// namespace of its own, with the loopback up and the kernel's default
// ip_unprivileged_port_start of 1024, so that port 123 is free and needs a
// privilege whatever the host's setting.
func inNetns(t *testing.T) []string {
	t.Helper()
	unshare, ip := needNetns(t)
	const script = `ip="$1"; shift
"$ip" link set lo up || exit 90
echo 1024 >/proc/sys/net/ipv4/ip_unprivileged_port_start || exit 91
exec "$@"`
	return []string{unshare, "-n", "--", "sh", "-c", script, "sh", ip}
}

// nobody is the unprivileged account the tests switch to.
func nobody(t *testing.T) *user.User {
	t.Helper()
	u, err := user.Lookup("nobody")
	testenv.Need(t, err == nil, fmt.Sprintf("no user nobody: %v", err))
	return u
}

// asNobody is a wrapper that runs its command as the user nobody, with no
// supplementary groups, and with CAP_NET_BIND_SERVICE as its only
// capability when bind is set (what systemd's AmbientCapabilities= gives a
// service), or none.
func asNobody(t *testing.T, bind bool) []string {
	t.Helper()
	testenv.Need(t, os.Geteuid() == 0, "switching to the user nobody needs root (uid "+strconv.Itoa(os.Geteuid())+")")
	setpriv := testenv.Program(t, "setpriv", "util-linux")
	u := nobody(t)
	w := []string{setpriv, "--reuid=" + u.Uid, "--regid=" + u.Gid, "--clear-groups", "--pdeathsig=KILL"}
	if bind {
		w = append(w, "--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service")
	}
	return append(w, "--")
}

// runFailing runs the leapsmear binary with args through wrap, expecting it
// to fail within 10 s, and returns its exit status, standard output and the
// lines of its standard error.
func runFailing(t *testing.T, wrap []string, args ...string) (code int, stdout string, stderr []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	argv := append(append(wrap[:len(wrap):len(wrap)], leapsmear(t)), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ctx.Err() != nil {
		t.Fatalf("%s: want a failure, got %v\n%s%s", strings.Join(argv, " "), err, &out, &errs)
	}
	if s := strings.TrimRight(errs.String(), "\n"); s != "" {
		stderr = strings.Split(s, "\n")
	}
	return ee.ExitCode(), out.String(), stderr
}

// oneLineError checks that a failed run printed nothing but the one line
// "leapsmear: ..." containing every one of want, and exited 1.
func oneLineError(t *testing.T, code int, stdout string, stderr []string, want ...string) {
	t.Helper()
	exitLine(t, 1, code, stdout, stderr, want...)
}

// exitLine checks that a failed run printed nothing but the one line
// "leapsmear: ..." containing every one of want, and exited wantCode.
func exitLine(t *testing.T, wantCode, code int, stdout string, stderr []string, want ...string) {
	t.Helper()
	if code != wantCode || stdout != "" || len(stderr) != 1 || !strings.HasPrefix(stderr[0], "leapsmear: ") {
		t.Errorf("exit %d, stdout %q, stderr %q: want exit %d and one line", code, stdout, stderr, wantCode)
		return
	}
	for _, w := range want {
		if !strings.Contains(stderr[0], w) {
			t.Errorf("the error %q does not say %q", stderr[0], w)
		}
	}
}

// procStatus reads the fields of /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}

// checkServes asks the server on port 123 in its network namespace for the
// time, with `leapsmear query` run there by nsenter. (Entering the
// namespace from a thread of this process would be no simpler: a thread
// locked into it would have to be destroyed, and its death would send the
// parent-death signal to the servers it started.)
func checkServes(t *testing.T, s *server) {
	t.Helper()
	nsenter := testenv.Program(t, "nsenter", "util-linux")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, nsenter, fmt.Sprintf("--net=/proc/%d/ns/net", s.cmd.Process.Pid), "--",
		leapsmear(t), "query", "--json", "127.0.0.1:123").CombinedOutput()
	if err != nil {
		t.Fatalf("query on port 123: %v\n%s", err, out)
	}
	var res []struct {
		Stratum  int   `json:"stratum"`
		OffsetNs int64 `json:"offset_ns"`
		DelayNs  int64 `json:"delay_ns"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 {
		t.Fatalf("query output %s: %v", out, err)
	}
	r := res[0]
	t.Logf("answered on port 123: stratum %d, offset %v, delay %v", r.Stratum, time.Duration(r.OffsetNs), time.Duration(r.DelayNs))
	if r.Stratum != 2 || !ntptest.OffsetWithin(time.Duration(r.OffsetNs), 0, time.Duration(r.DelayNs)) {
		t.Errorf("answered stratum %d, offset %v", r.Stratum, time.Duration(r.OffsetNs))
	}
}

// TestUserDropsPrivileges: started as root, `serve --user nobody` binds
// port 123 and then runs as nobody (real, effective, saved and file-system
// IDs), in nobody's group, with no supplementary group and no capability
// left, and answers on port 123.
func TestUserDropsPrivileges(t *testing.T) {
	t.Parallel()
	testenv.Need(t, os.Geteuid() == 0, "binding port 123 and switching users needs root (uid "+strconv.Itoa(os.Geteuid())+")")
	u := nobody(t)
	s := startWrapped(t, inNetns(t), "--user", "nobody", "--listen", "127.0.0.1:123")
	dropped := s.waitLog(t, `"dropped privileges"`, 1)[0]
	if fmt.Sprint(dropped["uid"]) != u.Uid || fmt.Sprint(dropped["gid"]) != u.Gid {
		t.Errorf("logged %v, want uid %s gid %s", dropped, u.Uid, u.Gid)
	}
	st := procStatus(t, s.cmd.Process.Pid)
	want := map[string]string{
		"Uid": strings.Repeat(u.Uid+" ", 3) + u.Uid, "Gid": strings.Repeat(u.Gid+" ", 3) + u.Gid, "Groups": "",
		"CapEff": "0000000000000000", "CapPrm": "0000000000000000", "CapAmb": "0000000000000000", "CapInh": "0000000000000000",
		"CapBnd": "0000000000000000", "NoNewPrivs": "1",
	}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("/proc/%d/status %s: %q, want %q", s.cmd.Process.Pid, k, st[k], v)
		}
	}
	// Every thread, not only the first: capabilities and no_new_privs are
	// kept per thread by the kernel.
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", s.cmd.Process.Pid))
	if err != nil || len(tasks) < 2 {
		t.Fatalf("threads of the server: %v %v", tasks, err)
	}
	for _, task := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", s.cmd.Process.Pid, task.Name()))
		if err != nil {
			continue // the thread ended
		}
		for _, k := range []string{"CapBnd", "NoNewPrivs", "CapEff"} {
			if !strings.Contains(string(data), k+":\t"+want[k]+"\n") {
				t.Errorf("thread %s: %s is not %s", task.Name(), k, want[k])
			}
		}
	}
	checkServes(t, s)
}

// TestUserErrors: --user naming root, a user that does not exist, or asked
// of a process that is not root is one line of error, a mistake on the
// command line (exit 2), before anything is bound or logged.
func TestUserErrors(t *testing.T) {
	t.Parallel()
	serve := []string{"serve", "--listen", "127.0.0.1:0"}
	for _, c := range []struct {
		name, user string
		asNobody   bool
		want       []string
	}{
		{"root", "root", false, []string{"--user root: ", "that is root"}},
		{"unknown user", "leapsmear-no-such-user", false, []string{"--user leapsmear-no-such-user: ", "no such account on this host"}},
		{"not root", "nobody", true, []string{"--user nobody: ", "only root can switch users", "CAP_NET_BIND_SERVICE"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var wrap []string
			if c.asNobody && os.Geteuid() == 0 {
				wrap = asNobody(t, false)
			}
			code, stdout, stderr := runFailing(t, wrap, append(serve, "--user", c.user)...)
			exitLine(t, 2, code, stdout, stderr, c.want...)
		})
	}
}

// TestPort123Capabilities: as an unprivileged user, binding port 123 is a
// one-line permission error; with CAP_NET_BIND_SERVICE as the only
// capability (as systemd's AmbientCapabilities= gives it) the server binds
// it, keeps that capability alone, and answers.
func TestPort123Capabilities(t *testing.T) {
	t.Parallel()
	t.Run("no capability", func(t *testing.T) {
		t.Parallel()
		code, stdout, stderr := runFailing(t, append(inNetns(t), asNobody(t, false)...), "serve", "--listen", "127.0.0.1:123", "--assume-synced")
		// Before binding, the server may have said what it assumes (INFO);
		// nothing else.
		for len(stderr) > 1 && strings.Contains(stderr[0], " level=INFO ") {
			stderr = stderr[1:]
		}
		oneLineError(t, code, stdout, stderr, "listen 127.0.0.1:123: permission denied", "CAP_NET_BIND_SERVICE")
	})
	t.Run("CAP_NET_BIND_SERVICE only", func(t *testing.T) {
		t.Parallel()
		u := nobody(t)
		s := startWrapped(t, append(inNetns(t), asNobody(t, true)...), "--listen", "127.0.0.1:123")
		st := procStatus(t, s.cmd.Process.Pid)
		const bind = "0000000000000400" // 1 << CAP_NET_BIND_SERVICE (10)
		want := map[string]string{
			"Uid": strings.Repeat(u.Uid+" ", 3) + u.Uid, "Groups": "",
			"CapEff": bind, "CapPrm": bind, "CapAmb": bind,
		}
		for k, v := range want {
			if st[k] != v {
				t.Errorf("/proc/%d/status %s: %q, want %q", s.cmd.Process.Pid, k, st[k], v)
			}
		}
		checkServes(t, s)
		s.stop(t, syscall.SIGTERM)
	})
}
