package lab_test

import (
	"testing"

	"github.com/coder/quartz"
	"go.uber.org/goleak"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/internal/helpernode"
	"github.com/wslab/wslab/lab"
)

func TestMain(m *testing.M) {
	helpernode.MainIfAsked() // this binary may be a command node of a test
	goleak.VerifyTestMain(m)
}

func startLab(t *testing.T, doc config.Config) *lab.Lab {
	t.Helper()
	doc.Listener.Addr = "127.0.0.1:0"
	l, err := lab.Start(chattest.Ctx(t), lab.Config{Balancer: doc, Clock: quartz.NewMock(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func serverNames(b *balancer.Balancer) []string {
	var out []string
	for _, s := range b.Config().ServerGroup.Servers {
		out = append(out, s.Name)
	}
	return out
}

func TestTheLabsNodesStayTheGroupAtEveryReload(t *testing.T) {
	l := startLab(t, config.Config{})
	if p := l.Balancer.Config().ServerGroup.HealthCheck.Path; p != "/healthz" {
		t.Fatalf("the lab's nodes are checked on %q, want /healthz", p)
	}
	if _, err := l.AddNode(chattest.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{"listener: {idle_timeout: 30s}\n", "server_group: {policy: least_conn}\n"} {
		if _, err := l.Balancer.ReloadYAML([]byte(doc)); err != nil {
			t.Fatal(err)
		}
		cfg := l.Balancer.Config()
		if got := serverNames(l.Balancer); len(got) != 3 || cfg.ServerGroup.HealthCheck.Path != "/healthz" {
			t.Fatalf("after %q: servers %v checked on %s, want node-1..node-3 on /healthz", doc, got, cfg.ServerGroup.HealthCheck.Path)
		}
	}
	if err := l.RemoveNode("node-2"); err != nil {
		t.Fatal(err)
	}
	if got := serverNames(l.Balancer); len(got) != 2 || got[1] != "node-3" {
		t.Fatalf("after removing node-2: %v", got)
	}
	if p := l.Balancer.Config().ServerGroup.Policy; p != "least_conn" {
		t.Fatalf("RemoveNode reset the document's policy to %s, want least_conn kept", p)
	}
}

func TestServersOfYourOwnAreCheckedLikeTheCloudALBsDo(t *testing.T) {
	l := startLab(t, config.Config{ServerGroup: config.ServerGroup{
		Servers: []config.Server{{Name: "app", URL: "http://127.0.0.1:1"}},
	}})
	if p := l.Balancer.Config().ServerGroup.HealthCheck.Path; p != "/" {
		t.Fatalf("a server of the user's own is checked on %q, want /", p)
	}
}
