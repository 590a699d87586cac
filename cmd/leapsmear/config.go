package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// applyConfigFile reads a TOML file whose keys are the command's long flag
// names (listen = ["127.0.0.1:123"], policy = "noon-to-noon", ...) and sets
// every flag the command line did not set, so that flags win over the file.
// Unknown keys and values of the wrong kind are errors naming the file.
func applyConfigFile(cmd *cobra.Command, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var values map[string]any
	if _, err := toml.Decode(string(data), &values); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		fl := cmd.Flags().Lookup(key)
		if fl == nil || key == "config" || key == "help" {
			return fmt.Errorf("config file %s: unknown option %q (options are the long flag names of 'leapsmear %s --help')", path, key, cmd.Name())
		}
		if fl.Changed {
			continue
		}
		if err := setFlag(fl, values[key]); err != nil {
			return fmt.Errorf("config file %s: option %s: %w", path, key, err)
		}
	}
	return nil
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
	return fl.Value.Set(s)
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
