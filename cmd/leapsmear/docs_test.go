package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/leapsmear/leapsmear/client"
)

const serveOptionsDoc = "../../docs/serve-options.md"

func TestVersionFlag(t *testing.T) {
	code, stdout, stderr := runCapture("--version")
	if code != 0 || stderr != "" {
		t.Fatalf("--version: exit %d, stderr %q", code, stderr)
	}
	want := runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	if !strings.HasPrefix(stdout, "leapsmear ") || !strings.HasSuffix(stdout, want+"\n") || strings.Count(stdout, "\n") != 1 {
		t.Errorf("--version printed %q, want one line 'leapsmear VERSION, revision ..., %s'", stdout, want)
	}
	// The root's --version is the root's only: serve has none, and query
	// and watch keep theirs, the NTP version of their requests.
	if code, _, stderr := runCapture("serve", "--version"); code != 2 || !strings.Contains(stderr, "unknown flag: --version") {
		t.Errorf("serve --version: exit %d, %q", code, stderr)
	}
	for name, args := range map[string][]string{
		"query": {"query", "127.0.0.1:1", "--version", "6"},
		"watch": {"watch", "127.0.0.1:1", "--for", "1s", "--version", "5"},
	} {
		if code, _, stderr := runCapture(args...); code != 2 || !strings.Contains(stderr, "version") {
			t.Errorf("%s: exit %d, %q", strings.Join(args, " "), code, stderr)
		}
		cmd := findCommand(t, name)
		if fl := cmd.Flags().Lookup("version"); fl == nil || fl.Value.Type() != "int" || fl.DefValue != "4" {
			t.Errorf("%s --version: %+v", name, fl)
		}
	}
}

func findCommand(t *testing.T, name string) *cobra.Command {
	t.Helper()
	cmd, _, err := newRootCmd().Find([]string{name})
	if err != nil || cmd.Name() != name {
		t.Fatalf("command %s: %v", name, err)
	}
	return cmd
}

// TestManPages generates the pages as the package build does and checks that
// every visible command has one naming each of its flags, that hidden
// commands have none, and that a fixed SOURCE_DATE_EPOCH gives the same bytes.
func TestManPages(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1483228800") // 2017-01-01
	dir := t.TempDir()
	if code, _, stderr := runCapture("man", dir); code != 0 {
		t.Fatalf("man: exit %d: %s", code, stderr)
	}
	root := newRootCmd()
	pages := 0
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		name := strings.ReplaceAll(c.CommandPath(), " ", "-")
		data, err := os.ReadFile(filepath.Join(dir, name+".1"))
		if !c.IsAvailableCommand() && c != root {
			if err == nil {
				t.Errorf("hidden command %s has a page", name)
			}
			return
		}
		if err != nil {
			t.Errorf("no page for %s: %v", name, err)
			return
		}
		pages++
		page := string(data)
		title := `.TH "` + strings.ToUpper(name) + `" "1" "Jan 2017" "leapsmear `
		if !strings.Contains(page, title) || !strings.Contains(page, ".SH SYNOPSIS") {
			t.Errorf("%s.1 has no header %q:\n%.300s", name, title, page)
		}
		if strings.Contains(page, "Auto generated") {
			t.Errorf("%s.1 carries cobra's dated footer", name)
		}
		c.NonInheritedFlags().VisitAll(func(fl *pflag.Flag) {
			if !strings.Contains(page, `\fB--`+fl.Name+`\fP`) {
				t.Errorf("%s.1 does not document --%s", name, fl.Name)
			}
		})
	}
	walk(root)
	if pages < 8 {
		t.Errorf("%d pages", pages)
	}
	serve, err := os.ReadFile(filepath.Join(dir, "leapsmear-serve.1"))
	if err != nil {
		t.Fatal(err)
	}
	again := t.TempDir()
	if code, _, stderr := runCapture("man", again); code != 0 {
		t.Fatalf("man: exit %d: %s", code, stderr)
	}
	if serve2, _ := os.ReadFile(filepath.Join(again, "leapsmear-serve.1")); !bytes.Equal(serve, serve2) {
		t.Error("two runs with the same SOURCE_DATE_EPOCH differ")
	}
	if code, _, _ := runCapture("man"); code != 2 {
		t.Errorf("man without a directory: exit %d", code)
	}
}

// TestServeOptionsDoc keeps docs/serve-options.md what the generator makes
// of the flags and deploy/leapsmear.toml.
func TestServeOptionsDoc(t *testing.T) {
	code, stdout, stderr := runCapture("serve-options", exampleConfig)
	if code != 0 {
		t.Fatalf("serve-options: exit %d: %s", code, stderr)
	}
	doc, err := os.ReadFile(serveOptionsDoc)
	if err != nil {
		t.Fatal(err)
	}
	if string(doc) != stdout {
		t.Errorf("%s is stale: run go generate ./cmd/leapsmear", serveOptionsDoc)
	}
	// Every option is there with its default.
	newServeCmd().Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Name == "config" || fl.Name == "help" {
			return
		}
		if !strings.Contains(stdout, "in the file `"+fl.Name+"` (") || !strings.Contains(stdout, "default `"+tomlDefault(fl)+"`") {
			t.Errorf("the reference does not show %s with its default %s", fl.Name, tomlDefault(fl))
		}
	})
}

// TestServeOptionsRefusesDrift: the generator refuses an example file that
// has drifted from the flags, naming the line.
func TestServeOptionsRefusesDrift(t *testing.T) {
	good, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"wrong default", `# stratum = 2`, `# stratum = 3`, "commented-out stratum = 3 is not the default; write stratum = 2"},
		{"missing option", "# SO_REUSEPORT sockets per listen address, each served by its own goroutine\n" +
			"# with batched reads and writes; 0 means one per CPU.\n# sockets = 0\n", "", "options missing from the example file: sockets"},
		{"unknown option", `# stratum = 2`, "# stratum = 2\n# strata = 2", "strata is not an option of 'leapsmear serve'"},
		{"twice", `# stratum = 2`, "# stratum = 2\n# stratum = 2", "stratum is shown twice"},
		{"unexplained", "\n# sockets = 0", "\n\n# sockets = 0", "a blank line separates a comment from the option"},
	} {
		bad := strings.Replace(string(good), c.old, c.new, 1)
		if bad == string(good) {
			t.Fatalf("%s: %q not in %s", c.name, c.old, exampleConfig)
		}
		path := filepath.Join(t.TempDir(), "bad.toml")
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCapture("serve-options", path)
		if code != 1 || stdout != "" || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "line ") && c.name != "missing option" {
			t.Errorf("%s: exit %d, stdout %d bytes, stderr %q, want %q", c.name, code, len(stdout), stderr, c.want)
		}
	}
}

// TestReadmeQuickStart runs the README's first command as a newcomer would,
// on any free port: it must serve the built-in table with LI=0 and stratum 2
// whether or not this host's clock is synchronised, and the second command
// must be the test command CI runs.
func TestReadmeQuickStart(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, quick, ok := strings.Cut(string(readme), "## Quick start\n")
	_, block, ok2 := strings.Cut(quick, "```sh\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no '## Quick start' with a sh block")
	}
	lines := strings.Split(strings.TrimSpace(block), "\n")
	const build = "go build -o leapsmear ./cmd/leapsmear && ./leapsmear serve "
	if len(lines) != 2 || !strings.HasPrefix(lines[0], build) || !strings.HasPrefix(lines[1], "go test -race ./... ") {
		t.Fatalf("the quick start is not 'build and serve', then 'go test -race ./...':\n%s", block)
	}
	args := strings.Fields(strings.TrimPrefix(lines[0], build))
	listen := ""
	for i := range args {
		if args[i] == "--listen" && i+1 < len(args) {
			listen = args[i+1]
			args[i+1] = "127.0.0.1:0"
		}
	}
	if listen == "" || !strings.Contains(quick, "./leapsmear query "+listen+" ") {
		t.Errorf("the quick start serves on %q and does not query that address", listen)
	}
	for _, a := range args {
		if a == "--leap-file" || a == "--config" {
			t.Errorf("the quick start's server does not use the built-in table: %v", args)
		}
	}
	p := startServe(t, append(args, "--admin", "127.0.0.1:0")...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := client.Query(ctx, p.ntp, client.Options{})
	if err != nil || resp.Header.Leap != 0 || resp.Header.Stratum != 2 {
		t.Fatalf("query of the quick-start server: %v %+v", err, resp)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}
