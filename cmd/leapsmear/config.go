package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// applyConfigFile reads a TOML file whose keys are the command's long flag
// names (listen = ["127.0.0.1:123"], policy = "noon-to-noon", ...) and sets
// every flag the command line did not set, so that flags win over the file.
// Every mistake in the file (syntax, a section, an unknown key, a value of
// the wrong kind) is a usage error naming the file, the line and the key.
// The lines of the keys it set are kept in the command's annotations, so
// that a value the command refuses later is reported against the file too
// (fromConfigFile).
func applyConfigFile(cmd *cobra.Command, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		// A file named on the command line that is not there (or is a
		// directory) is a mistake in the command line; one that cannot be
		// read (permissions, I/O) is not.
		var pe *fs.PathError
		if errors.As(err, &pe) && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EISDIR)) {
			return usagef("--config %s: %w; want a TOML file of 'leapsmear %s' options, such as deploy/leapsmear.toml", path, pe.Err, cmd.Name())
		}
		return fmt.Errorf("config file %s: %w", path, err)
	}
	var values map[string]any
	if _, err := toml.Decode(string(data), &values); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			// The key, when the error is on the line that sets it (a
			// number out of range); a line without one names none.
			if pe.LastKey != "" && keyLine(data, pe.LastKey) == pe.Position.Line {
				return usagef("config file %s line %d: %s: %s", path, pe.Position.Line, pe.LastKey, pe.Message)
			}
			return usagef("config file %s line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return usagef("config file %s: %w", path, err)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		line := keyLine(data, key)
		at := fmt.Sprintf("config file %s line %d: %s", path, line, key)
		if _, ok := values[key].(map[string]any); ok {
			return usagef("config file %s line %d: [%s]: the file has no sections; write the options at the top level (keys are the long flag names of 'leapsmear %s --help')", path, line, key, cmd.Name())
		}
		fl := cmd.Flags().Lookup(key)
		if fl == nil || key == "config" || key == "help" {
			return usagef("%s: unknown option (options are the long flag names of 'leapsmear %s --help')", at, cmd.Name())
		}
		if fl.Changed {
			continue
		}
		if err := setFlag(fl, values[key]); err != nil {
			return usagef("%s: %w", at, err)
		}
		if cmd.Annotations == nil {
			cmd.Annotations = map[string]string{}
		}
		cmd.Annotations[configAnnotation] = path
		cmd.Annotations[configAnnotation+key] = strconv.Itoa(line)
	}
	return nil
}

// configAnnotation prefixes the command annotations of applyConfigFile.
const configAnnotation = "leapsmear.config:"

// keyLine returns the line of the file where key is set (1 when not found).
func keyLine(data []byte, key string) int {
	for i, line := range strings.Split(string(data), "\n") {
		l := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(l, key); ok && strings.HasPrefix(strings.TrimSpace(rest), "=") {
			return i + 1
		}
		if l == "["+key+"]" {
			return i + 1
		}
	}
	return 1
}

// fromConfigFile reports a usage error about a flag whose value came from
// the config file against the file, its line and its key, instead of a flag
// the user never typed. Other errors pass unchanged.
func fromConfigFile(cmd *cobra.Command, err error) error {
	var ue usageError
	if !errors.As(err, &ue) || cmd.Annotations == nil {
		return err
	}
	path := cmd.Annotations[configAnnotation]
	msg := ue.Error()
	for ann, line := range cmd.Annotations {
		key, ok := strings.CutPrefix(ann, configAnnotation)
		if !ok || key == "" {
			continue
		}
		flag := "--" + key
		i := strings.Index(msg, flag)
		if i < 0 || (len(msg) > i+len(flag) && msg[i+len(flag)] != ' ' && msg[i+len(flag)] != ':') {
			continue
		}
		return usagef("config file %s line %s: %s%s", path, line, key, msg[i+len(flag):])
	}
	return err
}

// setFlag sets a flag from a decoded TOML value; an array sets a repeatable
// flag once per element.
func setFlag(fl *pflag.Flag, v any) error {
	if list, ok := v.([]any); ok {
		if !strings.HasSuffix(fl.Value.Type(), "Array") && !strings.HasSuffix(fl.Value.Type(), "Slice") {
			return fmt.Errorf("takes one value, not a list")
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			strs := make([]string, len(list))
			for i, e := range list {
				s, err := scalar(e)
				if err != nil {
					return err
				}
				strs[i] = s
			}
			return sv.Replace(strs)
		}
	}
	s, err := scalar(v)
	if err != nil {
		return err
	}
	if sv, ok := fl.Value.(pflag.SliceValue); ok {
		return sv.Replace([]string{s})
	}
	if err := fl.Value.Set(s); err != nil {
		return fmt.Errorf("%q: %s", s, valueHint(fl.Value.Type()))
	}
	return nil
}

func scalar(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("unsupported value %v (%T)", v, v)
}
