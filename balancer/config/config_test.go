package config_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wslab/wslab/balancer/config"
)

func TestSpecExampleConfigIsValid(t *testing.T) {
	spec := `
listener:
  addr: 127.0.0.1:8080
  idle_timeout: 60s
  tls: {addr: 127.0.0.1:8443, self_signed: true}
server_group:
  policy: round_robin
  deregistration_delay: 300s
  health_check: {path: /healthz, interval: 2s, timeout: 5s, healthy_threshold: 3, unhealthy_threshold: 3}
  servers:
    - {name: node-1, url: http://127.0.0.1:9001, weight: 1}
    - {name: node-2, url: http://127.0.0.1:9002, weight: 1}
`
	cfg, err := config.Load([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.ServerGroup.Servers) != 2 || cfg.Listener.TLS == nil || !cfg.Listener.TLS.SelfSigned {
		t.Fatalf("parsed %+v", cfg)
	}
	if err := (config.Config{}).Validate(); err != nil {
		t.Fatalf("the zero config must be valid: %v", err)
	}
}

func TestConfigProblems(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown top-level field", "listner: {}\n", []string{"line 1: listner: unknown field (the top level has profile, listener, server_group)"}},
		{"wrong type", "server_group: {retries: many}\n", []string{`line 1: server_group.retries: "many" is not a whole number`}},
		{"bad duration", "listener: {idle_timeout: soon}\n", []string{`line 1: listener.idle_timeout: "soon" is not a duration`}},
		{"idle timeout too long", "listener: {idle_timeout: 5000s}\n", []string{"line 1: listener.idle_timeout: 5000s is out of range 1s-4000s"}},
		{"policy", "server_group: {policy: random}\n", []string{`server_group.policy: "random" is not round_robin, least_conn or source_hash`}},
		{"delay", "server_group: {deregistration_delay: 2h}\n", []string{"server_group.deregistration_delay: 7200s is out of range 0s-3600s"}},
		{"tls without cert", "listener: {tls: {addr: 127.0.0.1:8443}}\n", []string{"listener.tls: set cert_file and key_file, or self_signed: true"}},
		{"bad addr", "listener: {addr: localhost}\n", []string{`listener.addr: "localhost" is not host:port`}},
		{"health", "server_group: {health_check: {type: tcp, path: healthz, healthy_threshold: 11}}\n", []string{
			`health_check.type: "tcp" is not http or websocket`, `health_check.path: "healthz" must start with /`, "healthy_threshold: 11 is out of range 1-10"}},
		{"servers", "server_group: {servers: [{name: '', url: 'http://127.0.0.1'}, {name: a, url: 'http://h:1/x', weight: -1, state: off}]}\n", []string{
			`servers[0].name: "" must be`, `servers[0].url: "http://127.0.0.1" has no port`,
			`servers[1].url: "http://h:1/x" must not have a path`, "servers[1].weight: -1 is out of range", `servers[1].state: "off" is not active or drain`}},
		{"stickiness type", "server_group:\n  stickiness: {type: cookie}\n", []string{`line 2: server_group.stickiness.type: "cookie" is not none, lb_cookie, app_cookie or source_ip`}},
		{"app_cookie without a name", "server_group:\n  stickiness:\n    type: app_cookie\n", []string{"line 2: server_group.stickiness.cookie_name: is required for app_cookie"}},
		{"stickiness duration", "server_group:\n  stickiness:\n    type: lb_cookie\n    duration: 8d\n", []string{`line 4: server_group.stickiness.duration: "8d" is not a duration`}},
		{"stickiness duration too long", "server_group:\n  stickiness:\n    type: lb_cookie\n    duration: 200h\n", []string{"line 4: server_group.stickiness.duration: 720000s is out of range 1s-604800s"}},
		{"cookie name for lb_cookie", "server_group: {stickiness: {type: lb_cookie, cookie_name: io}}\n", []string{`server_group.stickiness.cookie_name: "io" is only for type app_cookie (type is lb_cookie)`}},
		{"bad app cookie name", "server_group: {stickiness: {type: app_cookie, cookie_name: 'a b'}}\n", []string{`server_group.stickiness.cookie_name: "a b" is not a cookie name`}},
		{"source_ip with another policy", "server_group: {policy: least_conn, stickiness: {type: source_ip}}\n", []string{`server_group.stickiness.type: "source_ip" pins by client IP, which is the policy source_hash; it cannot go with policy least_conn`}},
		{"field errors and value errors together", "listener: {idel_timeout: 1s, idle_timeout: 0.5s}\n", []string{"line 1: listener.idel_timeout: unknown field", "listener.idle_timeout: 500ms is out of range"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load([]byte(tt.yaml))
			if err == nil {
				t.Fatal("got no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	var se *config.SyntaxError
	if _, err := config.Load([]byte("listener: [")); !errors.As(err, &se) {
		t.Fatalf("got %v, want a SyntaxError", err)
	}
}

// FuzzParseConfig: no input panics; whatever loads without error is valid.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("listener: {addr: 127.0.0.1:8080, idle_timeout: 60s}\n"))
	f.Add([]byte("server_group: {servers: [{name: a, url: 'http://127.0.0.1:1', weight: 2}]}\n"))
	f.Add([]byte("server_group: {deregistration_delay: 0s, drain: {close_frame: true, jitter: 5s}}\n"))
	f.Add([]byte("{\"listener\": {\"tls\": {\"addr\": \":1\", \"self_signed\": true}}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Load(data)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Load accepted a config that Validate refuses: %v", err)
		}
		cfg.Marshal()
	})
}

func TestEveryProblemNamesItsLineOnce(t *testing.T) {
	doc := `listener:
  addr: 127.0.0.1:8080
  idle_timeout: 5000s
  tls: {addr: 127.0.0.1:8443}
server_group:
  policy: random
  health_check:
    success_codes: 200-999
    method: POST
  servers:
    - {name: a, url: "http://127.0.0.1:1"}
    - name: b
      url: "http://127.0.0.1:2"
      weight: 5000
`
	_, err := config.Load([]byte(doc))
	want := []string{
		"line 3: listener.idle_timeout: 5000s is out of range 1s-4000s",
		"line 4: listener.tls: set cert_file and key_file, or self_signed: true",
		`line 6: server_group.policy: "random" is not round_robin, least_conn or source_hash`,
		`line 9: server_group.health_check.method: "POST" is not GET or HEAD`,
		`line 8: server_group.health_check.success_codes: "200-999" is not a list of codes`,
		"line 14: server_group.servers[1].weight: 5000 is out of range 0-1000",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("lacks %q", w)
		}
	}
	if ps := config.Problems(err); len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	if line := config.OneLine(err); strings.Contains(line, ":;") || strings.Contains(line, "\n") {
		t.Errorf("one-line form has a stray ':;' or a newline: %s", line)
	}
}

func TestAServerGroupHasAtMost1000Servers(t *testing.T) {
	var b strings.Builder
	b.WriteString("server_group:\n  servers:\n")
	for i := range config.MaxServers + 1 {
		fmt.Fprintf(&b, "    - {name: s%d, url: 'http://127.0.0.1:%d'}\n", i, 1+i)
	}
	_, err := config.Load([]byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "line 2: server_group.servers: 1001 servers is over the limit of 1000") {
		t.Fatalf("got %v, want the limit named on line 2", err)
	}
}

func TestStickinessSourceIPIsThePolicySourceHash(t *testing.T) {
	cfg, err := config.Load([]byte("server_group: {stickiness: {type: source_ip}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.WithDefaults().ServerGroup.Policy; got != config.SourceHash {
		t.Errorf("got policy %s, want %s", got, config.SourceHash)
	}
	lb, err := config.Load([]byte("server_group: {stickiness: {type: lb_cookie}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := lb.WithDefaults().ServerGroup.Stickiness.Duration; got != config.Duration(config.DefaultStickyDuration) {
		t.Errorf("got duration %s, want the default %s", got, config.Duration(config.DefaultStickyDuration))
	}
}
