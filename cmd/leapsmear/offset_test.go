package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOffsetJSON(t *testing.T) {
	code, out, errOut := runCmd(t, "offset", "--policy", "noon-to-noon", "--leap", "2016-12-31",
		"--at", "2016-12-31T18:00:00Z", "--at", "2016-12-31T23:59:60.5Z", "--at", "2017-01-01T06:00:00Z", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		if len(r) != 5 {
			t.Errorf("row keys %v, want at, served, offset_ns, rate_ppm, li", r)
		}
	}
	// 21600/86401 of a second before the leap, 1 - 64801/86401 after it.
	want := []struct {
		at, served string
		offset     float64
	}{
		{"2016-12-31T18:00:00Z", "2016-12-31T17:59:59.750002894Z", -249997106},
		{"2016-12-31T23:59:60.5Z", "2017-01-01T00:00:00Z", 500000000},
		{"2017-01-01T06:00:00Z", "2017-01-01T06:00:00.249997107Z", 249997107},
	}
	for i, w := range want {
		if rows[i]["at"] != w.at || rows[i]["served"] != w.served || rows[i]["offset_ns"] != w.offset || rows[i]["li"] != 0.0 {
			t.Errorf("row %d = %v, want at %s served %s offset %v li 0", i, rows[i], w.at, w.served, w.offset)
		}
		if r := rows[i]["rate_ppm"].(float64); r > -11.57 || r < -11.58 {
			t.Errorf("row %d rate %v ppm, want -1e6/86401", i, r)
		}
	}
}

func TestOffsetStepAnnounces(t *testing.T) {
	code, out, errOut := runCmd(t, "offset", "--policy", "step", "--leap", "2016-12-31", "--at", "2016-12-31T23:59:60.5Z", "--json")
	if code != 0 {
		t.Fatal(errOut)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	if rows[0]["served"] != "2016-12-31T23:59:59.5Z" || rows[0]["offset_ns"] != 0.0 || rows[0]["li"] != 1.0 {
		t.Errorf("step in the leap second: %v", rows[0])
	}
}

func TestOffsetSyntheticNegative(t *testing.T) {
	code, out, errOut := runCmd(t, "offset", "--policy", "linear:-30s:60s", "--leap", "2030-06-30", "--sign", "-1",
		"--at", "2030-06-30T23:59:30Z", "--at", "2030-06-30T23:59:58.5Z", "--at", "2030-07-01T00:00:30Z", "--at", "2030-07-01T00:00:31Z")
	if code != 0 {
		t.Fatal(errOut)
	}
	// The window runs from U = T-30s to U = T+30s; after the deleted second
	// true UTC is U+1s. At 23:59:58.5, U = T-1.5s: f = 28.5/60 = 0.475 ahead.
	// At 00:00:30, U = T+29s: f = 59/60, served U+f is 1/60 s behind true
	// UTC. At 00:00:31 the window has closed.
	for _, want := range []string{"+0.000000000 s", "+0.475000000 s", "-0.016666667 s", "+0.000000000 s  +0.000 ppm"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, _, errOut = runCmd(t, "offset", "--policy", "step", "--leap", "2030-06-30", "--sign", "-1", "--at", "2030-06-30T23:59:59.5Z")
	if code != 2 || !strings.Contains(errOut, "deleted") {
		t.Errorf("the deleted second: exit %d, %q", code, errOut)
	}
}

func TestOffsetErrors(t *testing.T) {
	cases := map[string][]string{
		"--leap DATE is required": {"offset", "--policy", "step", "--at", "2016-12-31T00:00:00Z"},
		"--policy is required":    {"offset", "--leap", "2016-12-31", "--at", "2016-12-31T00:00:00Z"},
		"no leap second":          {"offset", "--policy", "step", "--leap", "2016-06-30", "--at", "2016-06-30T00:00:00Z"},
		"at least one --at":       {"offset", "--policy", "step", "--leap", "2016-12-31"},
		"--policy":                {"offset", "--policy", "sine", "--leap", "2016-12-31", "--at", "2016-12-31T00:00:00Z"},
		"second 60":               {"offset", "--policy", "step", "--leap", "2016-12-31", "--at", "2016-12-31T12:00:60Z"},
		"want +1 or -1":           {"offset", "--policy", "step", "--leap", "2030-06-30", "--sign", "2", "--at", "2030-06-30T00:00:00Z"},
	}
	for want, args := range cases {
		code, _, errOut := runCmd(t, args...)
		if code != 2 || !strings.Contains(errOut, want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line with %q", args, code, errOut, want)
		}
	}
}

func TestPlotCommand(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "p.svg")
	code, _, errOut := runCmd(t, "plot", "--policy", "step,noon-to-noon", "--policy", "quadratic-17h", "--leap", "2016-12-31", "--samples", "100", "-o", svg)
	if code != 0 {
		t.Fatal(errOut)
	}
	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "noon-to-noon", "quadratic-17h", "step"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	png := filepath.Join(dir, "p.png")
	if code, _, errOut := runCmd(t, "plot", "--policy", "linear:-30s:61s", "--leap", "2030-06-30", "--sign", "-1", "-o", png); code != 0 {
		t.Fatal(errOut)
	}
	if data, err := os.ReadFile(png); err != nil || !strings.HasPrefix(string(data), "\x89PNG") {
		t.Errorf("not a PNG: %v", err)
	}
	if code, _, errOut := runCmd(t, "plot", "--policy", "noon-to-noon", "--leap", "2016-12-31"); code != 2 || !strings.Contains(errOut, "-o FILE") {
		t.Errorf("missing -o: exit %d %q", code, errOut)
	}
	if code, _, _ := runCmd(t, "plot", "--policy", "noon-to-noon", "--leap", "2016-12-31", "-o", filepath.Join(dir, "none", "x.svg")); code != 1 {
		t.Errorf("unwritable output: exit %d, want 1", code)
	}
}

// TestPlotFormats: the extension chooses the format, other names are
// refused before anything is written, and "-o -" writes the picture alone
// to standard output.
func TestPlotFormats(t *testing.T) {
	dir := t.TempDir()
	base := []string{"plot", "--policy", "noon-to-noon", "--leap", "2016-12-31", "--samples", "50"}
	for _, c := range []struct {
		out    string
		extra  []string
		reason string
	}{
		{"x.jpg", nil, "not .jpg"},
		{"x", nil, "no extension"},
		{"x.svg", []string{"--format", "png"}, "--format says png"},
		{"x.png", []string{"--format", "gif"}, "--format gif"},
	} {
		out := filepath.Join(dir, c.out)
		code, stdout, errOut := runCmd(t, append(append(base, "-o", out), c.extra...)...)
		if code != 2 || !strings.Contains(errOut, c.reason) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || stdout != "" {
			t.Errorf("-o %s %v: exit %d, stderr %q; want 2 and one line saying %q", c.out, c.extra, code, errOut, c.reason)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("-o %s %v left a file: %v", c.out, c.extra, err)
		}
	}
	upper := filepath.Join(dir, "UPPER.PNG")
	if code, _, errOut := runCmd(t, append(base, "-o", upper)...); code != 0 {
		t.Fatal(errOut)
	}
	if data, _ := os.ReadFile(upper); !bytes.HasPrefix(data, []byte("\x89PNG")) {
		t.Errorf("UPPER.PNG is not a PNG: %.8q", data)
	}
	code, stdout, errOut := runCmd(t, append(base, "-o", "-")...)
	if code != 0 || !strings.HasPrefix(stdout, "<?xml") || !strings.HasSuffix(strings.TrimSpace(stdout), "</svg>") || strings.Contains(stdout, "wrote") {
		t.Errorf("-o -: exit %d, stderr %q, stdout starts %.40q and ends %.40q", code, errOut, stdout, stdout[max(0, len(stdout)-40):])
	}
	if _, err := os.Stat("-"); !os.IsNotExist(err) {
		t.Errorf("-o - wrote a file named \"-\": %v", err)
	}
	code, stdout, errOut = runCmd(t, append(base, "-o", "-", "--format", "png")...)
	if img, err := png.Decode(strings.NewReader(stdout)); code != 0 || err != nil || img.Bounds().Dx() < 500 {
		t.Errorf("-o - --format png: exit %d, stderr %q, PNG %v", code, errOut, err)
	}
}
