package admin

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
)

// chromium runs headless Chromium on url with extra flags and returns its
// standard output.
func chromium(t *testing.T, bin, dir string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(dir, "ud"), "--window-size=1200,1600"}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.String())
	}
	return stdout.Bytes()
}

// element finds the element with the given id.
func element(n *html.Node, id string) *html.Node {
	if n.Type == html.ElementNode {
		for _, a := range n.Attr {
			if a.Key == "id" && a.Val == id {
				return n
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if e := element(c, id); e != nil {
			return e
		}
	}
	return nil
}

// text returns the text of a node, whitespace collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// count returns how many elements below n have the tag.
func count(n *html.Node, tag string) int {
	k := 0
	if n.Type == html.ElementNode && n.Data == tag {
		k++
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		k += count(c, tag)
	}
	return k
}

// TestStatusPageInChromium loads the status page of a running server, in the
// middle of a rehearsal, in headless Chromium: the rendered DOM must show
// the policy, the next leap and a drawn SVG, and a screenshot is saved.
func TestStatusPageInChromium(t *testing.T) {
	bin := testenv.Program(t, "chromium", "chromium")
	dir := t.TempDir()
	at := time.Now().Add(90 * time.Second).Truncate(time.Second)
	s := start(t, func(c *daemon.Config) {
		c.Rehearse = &leap.Rehearsal{At: at, Delta: 1}
		c.Policy, _ = smear.Parse("linear:-60s:5m")
	})
	url := s.base + "/"

	dom := chromium(t, bin, dir, "--dump-dom", url)
	doc, err := html.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	policy := element(doc, "policy")
	if policy == nil || !strings.Contains(text(policy), "Policy linear:-60s:5m shape linear window linear:-1m0s:5m0s") {
		t.Errorf("policy card: %q", textOf(policy))
	}
	next := element(doc, "next-leap")
	wantNext := "Next leap rehearsal leap at " + at.UTC().Format(time.RFC3339) + " +1: " + at.Add(-time.Second).UTC().Format(time.TimeOnly) + " repeats (TAI-UTC 38) rehearsal, inserted second · window opens in"
	if next == nil || !strings.HasPrefix(text(next), wantNext) {
		t.Errorf("next leap card: %q, want it to start %q", textOf(next), wantNext)
	}
	chart := element(doc, "chart")
	if chart == nil || count(chart, "svg") != 1 || count(chart, "path") < 20 || count(chart, "text") < 10 {
		t.Fatalf("chart: %d svg, %d path, %d text elements", count(chart, "svg"), count(chart, "path"), count(chart, "text"))
	}
	if !strings.Contains(text(chart), "now") || !strings.Contains(text(chart), "The dashed red line marks now.") {
		t.Errorf("chart text: %q", text(chart))
	}
	if health := element(doc, "health"); health == nil || !strings.HasPrefix(text(health), "ok: serving linear:-60s:5m") {
		t.Errorf("health: %q", textOf(health))
	}

	shot := filepath.Join(dir, "status.png")
	chromium(t, bin, dir, "--screenshot="+shot, url)
	t.Logf("screenshot: %s", shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The curves are drawn in the chart's first colour, a blue (0, 114,
	// 178); nothing else on a healthy page is blue.
	b := img.Bounds()
	blue := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 < 60 && g>>8 > 80 && g>>8 < 150 && bl>>8 > 140 {
				blue++
			}
		}
	}
	if b.Dx() != 1200 || blue < 300 {
		t.Errorf("screenshot %v with %d blue pixels: the chart was not drawn", b, blue)
	}
	if keep := os.Getenv("LEAPSMEAR_KEEP_SCREENSHOT"); keep != "" {
		data, _ := os.ReadFile(shot)
		if err := os.WriteFile(keep, data, 0o644); err != nil {
			t.Error(err)
		}
	}
}

func textOf(n *html.Node) string {
	if n == nil {
		return "<missing>"
	}
	return text(n)
}
