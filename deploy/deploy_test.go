// Package deploy_test checks the deployment files: the systemd unit, the
// Kubernetes manifest and the Prometheus rules, against the server they
// deploy.
package deploy_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/leapsmear/leapsmear/admin"
	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

const (
	rulesFile = "prometheus/leapsmear-alerts.yaml"
	unitFile  = "systemd/leapsmear.service"
	k8sFile   = "kubernetes/leapsmear.yaml"
	opsDoc    = "../docs/operations.md"
	changelog = "../CHANGELOG.md"
	buildSh   = "../release/build.sh"
)

// exportedMetrics scrapes the admin endpoints of a running daemon that has a
// leap ahead (a rehearsal), so that every conditional metric is present, and
// returns the metric family names.
func exportedMetrics(t *testing.T) []string {
	t.Helper()
	p, err := smear.Parse("noon-to-noon")
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(context.Background(), daemon.Config{
		Server:   server.Config{Listen: []string{"127.0.0.1:0"}, SocketsPerAddress: 1},
		Policy:   p,
		Rehearse: &leap.Rehearsal{At: time.Now().Add(48 * time.Hour).Truncate(time.Second), Delta: 1},
		Source:   timescale.Config{AssumeSynced: true},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	srv := httptest.NewServer(admin.Handler(d, admin.Options{}))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range fams {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var metricName = regexp.MustCompile(`\bleapsmear_[a-z_]+`)

func TestAlertRulesUseExportedMetrics(t *testing.T) {
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	exported := exportedMetrics(t)
	seen := map[string]bool{}
	alerts := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			alerts++
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("group %s: incomplete rule %+v", g.Name, r)
			}
			if s := r.Labels["severity"]; s != "info" && s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			names := metricName.FindAllString(r.Expr, -1)
			if len(names) == 0 {
				t.Errorf("%s: no leapsmear metric in %q", r.Alert, r.Expr)
			}
			for _, n := range names {
				seen[n] = true
				if !slices.Contains(exported, n) {
					t.Errorf("%s uses %s, which /metrics does not export", r.Alert, n)
				}
			}
		}
	}
	// The alerts the issue asks for: expiry, synchronisation, fleet offset.
	for _, n := range []string{"leapsmear_leap_table_expiry_seconds", "leapsmear_leap_table_expired",
		"leapsmear_synchronized", "leapsmear_offset_seconds"} {
		if !seen[n] {
			t.Errorf("no alert on %s", n)
		}
	}
	if alerts < 10 {
		t.Errorf("%d alerts", alerts)
	}
}

func TestAlertRulesPromtool(t *testing.T) {
	promtool := testenv.Program(t, "promtool", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "leapsmear-alerts.yaml"},
		{"test", "rules", "leapsmear-alerts.test.yaml"},
	} {
		out, err := command(t, "prometheus", promtool, args...)
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestOperationsDocNamesEveryMetric keeps docs/operations.md complete: every
// leapsmear metric and every alert has its entry.
func TestOperationsDocNamesEveryMetric(t *testing.T) {
	doc, err := os.ReadFile(opsDoc)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range exportedMetrics(t) {
		if strings.HasPrefix(n, admin.MetricPrefix) && !strings.Contains(string(doc), "`"+n) {
			t.Errorf("docs/operations.md does not explain %s", n)
		}
	}
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`alert: (\w+)`).FindAllStringSubmatch(string(data), -1) {
		if !strings.Contains(string(doc), "`"+m[1]+"`") {
			t.Errorf("docs/operations.md does not explain the alert %s", m[1])
		}
	}
}

// unit is a parsed systemd unit: section -> key -> values in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: %q is not key=value in a section", path, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func TestSystemdUnit(t *testing.T) {
	u := parseUnit(t, unitFile)
	svc := u["Service"]
	want := map[string]string{
		"DynamicUser":             "yes",
		"AmbientCapabilities":     "CAP_NET_BIND_SERVICE",
		"CapabilityBoundingSet":   "CAP_NET_BIND_SERVICE",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectControlGroups":    "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
		"SystemCallFilter":        "@system-service adjtimex",
		"MemoryDenyWriteExecute":  "yes",
		"RestrictNamespaces":      "yes",
		"LockPersonality":         "yes",
		"ExecStart":               "/usr/local/bin/leapsmear serve --config /etc/leapsmear/leapsmear.toml",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
	}
	for k, v := range want {
		if got := svc[k]; len(got) != 1 || got[0] != v {
			t.Errorf("[Service] %s=%q, want %q", k, got, v)
		}
	}
	// Settings that would break the server: a private user namespace makes
	// CAP_NET_BIND_SERVICE useless on the host's network, and ProtectClock
	// forbids even the read-only adjtimex (every reply would say LI=3).
	for _, k := range []string{"PrivateUsers", "ProtectClock", "PrivateNetwork", "User"} {
		if _, ok := svc[k]; ok {
			t.Errorf("[Service] sets %s", k)
		}
	}
	if u["Install"]["WantedBy"][0] != "multi-user.target" {
		t.Errorf("[Install] %v", u["Install"])
	}
}

func TestSystemdUnitVerifies(t *testing.T) {
	analyze := testenv.Program(t, "systemd-analyze", "systemd")
	// systemd-analyze verify checks that ExecStart names an executable:
	// point it at one that exists, and keep everything else as shipped.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := dir + "/leapsmear.service"
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(data), "/usr/local/bin/leapsmear", exe)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := command(t, dir, analyze, "verify", path)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Template struct {
			Spec struct {
				HostNetwork bool `yaml:"hostNetwork"`
				Containers  []struct {
					Image string   `yaml:"image"`
					Args  []string `yaml:"args"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
						HostPort      int    `yaml:"hostPort"`
						Protocol      string `yaml:"protocol"`
					} `yaml:"ports"`
					ReadinessProbe struct {
						HTTPGet struct {
							Path string `yaml:"path"`
							Port string `yaml:"port"`
						} `yaml:"httpGet"`
					} `yaml:"readinessProbe"`
					SecurityContext struct {
						AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
						ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
						Capabilities             struct {
							Drop []string `yaml:"drop"`
							Add  []string `yaml:"add"`
						} `yaml:"capabilities"`
					} `yaml:"securityContext"`
					VolumeMounts []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
						SubPath   string `yaml:"subPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name  string `yaml:"name"`
						Items []struct {
							Key  string `yaml:"key"`
							Path string `yaml:"path"`
						} `yaml:"items"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// kubernetesObjects reads every document of the manifest.
func kubernetesObjects(t *testing.T) map[string]k8sObject {
	t.Helper()
	f, err := os.Open(k8sFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	objs := map[string]k8sObject{}
	dec := yaml.NewDecoder(f)
	for {
		var o k8sObject
		if err := dec.Decode(&o); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", k8sFile, err)
		}
		objs[o.Kind+"/"+o.Metadata.Name] = o
	}
	return objs
}

func TestKubernetesDaemonSet(t *testing.T) {
	objs := kubernetesObjects(t)
	ds, ok := objs["DaemonSet/leapsmear"]
	if !ok {
		t.Fatalf("no DaemonSet leapsmear in %v", objs)
	}
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork || len(spec.Containers) != 1 {
		t.Fatalf("hostNetwork %v, %d containers", spec.HostNetwork, len(spec.Containers))
	}
	c := spec.Containers[0]
	args := strings.Join(c.Args, " ")
	if args != "serve --config /etc/leapsmear/leapsmear.toml --admin $(NODE_IP):9123" {
		t.Errorf("args %q", args)
	}
	ports := map[string]int{}
	for _, p := range c.Ports {
		if p.ContainerPort != p.HostPort {
			t.Errorf("port %s: container %d, host %d", p.Name, p.ContainerPort, p.HostPort)
		}
		ports[p.Name+"/"+p.Protocol] = p.ContainerPort
	}
	if ports["ntp/UDP"] != 123 || ports["admin/TCP"] != 9123 {
		t.Errorf("ports %v", ports)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Port != "admin" {
		t.Errorf("readiness probe %+v", c.ReadinessProbe)
	}
	sc := c.SecurityContext
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !sc.ReadOnlyRootFilesystem ||
		!slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || !slices.Equal(sc.Capabilities.Add, []string{"NET_BIND_SERVICE"}) {
		t.Errorf("security context %+v", sc)
	}

	// The leap file the config names comes from the fleet's ConfigMap.
	cm, ok := objs["ConfigMap/leapsmear-config"]
	if !ok || !strings.Contains(cm.Data["leapsmear.toml"], `leap-file = ["/etc/leapsmear/table/leap-seconds.list"]`) {
		t.Fatalf("config map: %+v", cm.Data)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	volumes := map[string]string{}
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil {
			volumes[v.Name] = v.ConfigMap.Name
			if v.Name == "leap-table" && (len(v.ConfigMap.Items) != 1 || v.ConfigMap.Items[0].Path != "leap-seconds.list") {
				t.Errorf("leap table items %+v", v.ConfigMap.Items)
			}
		}
	}
	if mounts["leap-table"] != "/etc/leapsmear/table" || volumes["leap-table"] != "leapsmear-leap-table" {
		t.Errorf("leap table mount %q from %q", mounts["leap-table"], volumes["leap-table"])
	}
	if mounts["config"] != "/etc/leapsmear/leapsmear.toml" || volumes["config"] != "leapsmear-config" {
		t.Errorf("config mount %q from %q", mounts["config"], volumes["config"])
	}
}

// TestKubernetesImageIsTheRelease: the DaemonSet runs the image
// release/build.sh names, at the newest version of the CHANGELOG, and runs it
// as the image's user could not on the host network (UID 0, one capability).
func TestKubernetesImageIsTheRelease(t *testing.T) {
	log, err := os.ReadFile(changelog)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^## \[([0-9][^\]]*)\]`).FindSubmatch(log)
	if m == nil {
		t.Fatalf("%s has no '## [VERSION]' section", changelog)
	}
	script, err := os.ReadFile(buildSh)
	if err != nil {
		t.Fatal(err)
	}
	im := regexp.MustCompile(`(?m)^IMAGE=\$\{IMAGE:-([^}]+)\}$`).FindSubmatch(script)
	if im == nil {
		t.Fatalf("%s sets no default IMAGE", buildSh)
	}
	want := string(im[1]) + ":" + string(m[1])
	c := kubernetesObjects(t)["DaemonSet/leapsmear"].Spec.Template.Spec.Containers[0]
	if c.Image != want {
		t.Errorf("the DaemonSet runs %q; release/build.sh %s builds %q", c.Image, m[1], want)
	}
	data, err := os.ReadFile(k8sFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "runAsUser: 0\n") {
		t.Error("the DaemonSet no longer runs as UID 0: port 123 on the host network needs it (docs/install.md)")
	}
}
