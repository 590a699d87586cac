package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// docs/serve-options.md is generated from two sources that each say what
// they know best: the flags of 'leapsmear serve' (names, types, defaults,
// one-line help) and the comments of deploy/leapsmear.toml (the explanation
// of each option, grouped by topic). TestServeOptionsDoc fails when the
// document is stale; TestExampleConfigDefaults when the example file shows
// a default the flags do not have.
//
//go:generate sh -c "go run . serve-options ../../deploy/leapsmear.toml >../../docs/serve-options.md.new && mv ../../docs/serve-options.md.new ../../docs/serve-options.md"

func init() { register(newServeOptionsCmd) }

func newServeOptionsCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "serve-options EXAMPLE.toml",
		Short:  "Print the reference of every 'serve' option as Markdown (docs/serve-options.md)",
		Hidden: true,
		Long: `Print the reference of every option of 'leapsmear serve' as Markdown: the
flag, its TOML key and type, its default, and the explanation given above the
option in the example configuration file. Fails if the file leaves out an
option, names one that does not exist, or shows a commented-out value that
is not the default.`,
		Example: `  go generate ./cmd/leapsmear     # runs: leapsmear serve-options deploy/leapsmear.toml > docs/serve-options.md`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("%s takes one argument, the example configuration file, got %q", cmd.CommandPath(), args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("serve options: %w", err)
			}
			sections, err := parseExampleConfig(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return writeServeOptions(cmd.OutOrStdout(), newServeCmd(), sections)
		},
	}
}

// exampleSection is one "# --- Title ---" part of the example file.
type exampleSection struct {
	title   string
	entries []exampleEntry
}

// exampleEntry is one comment paragraph of the example file and the options
// written right below it.
type exampleEntry struct {
	text    []string // the comment's lines, "" between paragraphs
	options []exampleOption
}

// exampleOption is one "key = value" line, active or commented out.
type exampleOption struct {
	key, value string
	commented  bool
	line       int
}

var (
	sectionLine = regexp.MustCompile(`^# -+ (.+?) -+$`)
	optionLine  = regexp.MustCompile(`^(# )?([a-z][a-z0-9-]*) = (.+)$`)
)

// parseExampleConfig splits the example file into sections of comment
// paragraphs and the options below them. The comment block before the first
// section is the file's preamble and is left out.
func parseExampleConfig(data []byte) ([]exampleSection, error) {
	var (
		sections []exampleSection
		text     []string
		cur      *exampleEntry
	)
	flush := func() {
		if cur != nil {
			s := &sections[len(sections)-1]
			s.entries = append(s.entries, *cur)
			cur = nil
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t")
		if m := sectionLine.FindStringSubmatch(line); m != nil {
			flush()
			sections = append(sections, exampleSection{title: m[1]})
			text = nil
			continue
		}
		if m := optionLine.FindStringSubmatch(line); m != nil {
			if len(sections) == 0 {
				return nil, fmt.Errorf("line %d: option %s before the first '# --- section ---' line", n, m[2])
			}
			if cur == nil {
				if len(text) == 0 {
					return nil, fmt.Errorf("line %d: option %s has no comment explaining it", n, m[2])
				}
				cur = &exampleEntry{text: text}
				text = nil
			}
			cur.options = append(cur.options, exampleOption{key: m[2], value: m[3], commented: m[1] != "", line: n})
			continue
		}
		switch {
		case line == "":
			if cur == nil && len(text) > 0 && len(sections) > 0 {
				return nil, fmt.Errorf("line %d: a blank line separates a comment from the option it explains (use '#' for a paragraph break)", n)
			}
			flush()
		case line == "#":
			if len(text) > 0 && text[len(text)-1] != "" {
				text = append(text, "")
			}
		case strings.HasPrefix(line, "# "):
			flush()
			text = append(text, strings.TrimPrefix(line, "# "))
		default:
			return nil, fmt.Errorf("line %d: %q is neither a comment nor key = value", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	flush()
	for i := range sections {
		for j := range sections[i].entries {
			t := sections[i].entries[j].text
			for len(t) > 0 && t[len(t)-1] == "" {
				t = t[:len(t)-1]
			}
			sections[i].entries[j].text = t
		}
	}
	return sections, nil
}

// tomlDefault writes a flag's default as a TOML value.
func tomlDefault(fl *pflag.Flag) string {
	if sv, ok := fl.Value.(pflag.SliceValue); ok {
		items := sv.GetSlice()
		quoted := make([]string, len(items))
		for i, s := range items {
			quoted[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(quoted, ", ") + "]"
	}
	switch fl.Value.Type() {
	case "bool", "int", "uint8", "float64":
		return fl.DefValue
	}
	return strconv.Quote(fl.DefValue)
}

// tomlType names the TOML type a flag takes in the configuration file.
func tomlType(fl *pflag.Flag) string {
	switch t := fl.Value.Type(); {
	case strings.HasSuffix(t, "Array") || strings.HasSuffix(t, "Slice"):
		return "list of strings"
	case t == "bool":
		return "boolean"
	case t == "int" || t == "uint8":
		return "integer"
	case t == "float64":
		return "number"
	case t == "duration":
		return "duration such as 300ms or 2h45m"
	}
	return "string"
}

// entryTitle is the heading of an entry: the options it explains.
func entryTitle(e exampleEntry) string {
	keys := make([]string, len(e.options))
	for i, o := range e.options {
		keys[i] = o.key
	}
	return strings.Join(keys, ", ")
}

// anchor is the fragment a Markdown renderer (GitHub's) gives a heading:
// lower case, punctuation other than '-' dropped, spaces turned into '-'.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// joinLines joins the lines of a flag's help text.
func joinLines(s string) string { return strings.Join(strings.Fields(s), " ") }

// writeServeOptions writes the Markdown reference of cmd's options, in the
// order and with the explanations of the example file's sections.
func writeServeOptions(w io.Writer, cmd *cobra.Command, sections []exampleSection) error {
	seen := map[string]int{}
	for _, s := range sections {
		for _, e := range s.entries {
			for _, o := range e.options {
				fl := cmd.Flags().Lookup(o.key)
				if fl == nil || o.key == "config" || o.key == "help" {
					return fmt.Errorf("line %d: %s is not an option of 'leapsmear serve'", o.line, o.key)
				}
				if prev, dup := seen[o.key]; dup {
					return fmt.Errorf("line %d: %s is shown twice (first on line %d)", o.line, o.key, prev)
				}
				seen[o.key] = o.line
				if o.commented && o.value != tomlDefault(fl) {
					return fmt.Errorf("line %d: commented-out %s = %s is not the default; write %s = %s",
						o.line, o.key, o.value, o.key, tomlDefault(fl))
				}
			}
		}
	}
	var missing []string
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if _, ok := seen[fl.Name]; !ok && fl.Name != "config" && fl.Name != "help" {
			missing = append(missing, fl.Name)
		}
	})
	if len(missing) > 0 {
		return fmt.Errorf("options missing from the example file: %s", strings.Join(missing, ", "))
	}

	var b strings.Builder
	b.WriteString(`# leapsmear serve: every option

<!-- Generated by 'go generate ./cmd/leapsmear' from the flags of 'leapsmear serve' and the comments of
deploy/leapsmear.toml. Do not edit: change those two and regenerate. -->

Every option of ` + "`leapsmear serve`" + ` is a command-line flag and a key of the TOML file given with ` + "`--config`" + `,
under the flag's long name: ` + "`--listen 127.0.0.1:123`" + ` on the command line is ` + "`listen = [\"127.0.0.1:123\"]`" + ` in the
file. A flag given on the command line wins over the file. ` + "`--config FILE`" + ` itself exists only on the command
line. [deploy/leapsmear.toml](../deploy/leapsmear.toml) is a complete example: it sets the options in the
"example" column and shows every other one, commented out, with its default.

`)
	b.WriteString("| option | default | example file | what it does |\n|---|---|---|---|\n")
	for _, s := range sections {
		for _, e := range s.entries {
			for _, o := range e.options {
				fl := cmd.Flags().Lookup(o.key)
				example := ""
				if !o.commented {
					example = "`" + o.value + "`"
				}
				fmt.Fprintf(&b, "| [`%s`](#%s) | `%s` | %s | %s |\n", o.key, anchor(entryTitle(e)), tomlDefault(fl), example,
					strings.ReplaceAll(joinLines(fl.Usage), "|", "\\|"))
			}
		}
	}
	for _, s := range sections {
		fmt.Fprintf(&b, "\n## %s\n", s.title)
		for _, e := range s.entries {
			fmt.Fprintf(&b, "\n### %s\n\n", entryTitle(e))
			for _, o := range e.options {
				fl := cmd.Flags().Lookup(o.key)
				flag := "`--" + fl.Name
				if fl.Value.Type() != "bool" {
					flag += " " + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
				}
				flag += "`"
				if _, ok := fl.Value.(pflag.SliceValue); ok {
					flag += " (repeatable)"
				}
				fmt.Fprintf(&b, "- %s, in the file `%s` (%s): default `%s`", flag, o.key, tomlType(fl), tomlDefault(fl))
				if !o.commented {
					fmt.Fprintf(&b, "; the example file sets `%s`", o.value)
				}
				b.WriteString("\n")
			}
			b.WriteString("\n")
			for _, line := range e.text {
				if line == "" {
					b.WriteString("\n")
					continue
				}
				b.WriteString(line + "\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
