package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/internal/clocktest"
	"github.com/wslab/wslab/internal/sioclienttest"
	"github.com/wslab/wslab/node"
)

// recoveryRedises are the Redis servers the recovery tests run on: the
// embedded miniredis and, with LAB_TEST_REDIS_URL, a real redis-server.
func recoveryRedises(t *testing.T, w *world) map[string]string {
	t.Helper()
	urls := map[string]string{"miniredis": w.redis.URL()}
	if u := os.Getenv("LAB_TEST_REDIS_URL"); u != "" {
		urls["redis-server"] = u
	}
	return urls
}

var recoveryChannels atomic.Int64

// recoveryLab is two chat nodes with recovery on, on a mock clock, behind
// a round-robin balancer that health-checks them.
type recoveryLab struct {
	clock *quartz.Mock
	nodes map[string]*node.Node
	lb    *balancer.Balancer
}

func startRecoveryLab(t *testing.T, w *world, redisURL string) *recoveryLab {
	t.Helper()
	l := &recoveryLab{clock: quartz.NewMock(t), nodes: map[string]*node.Node{}}
	ch := fmt.Sprintf("lab:test:recovery:%d:%d", os.Getpid(), recoveryChannels.Add(1))
	var servers []config.Server
	for _, name := range []string{"node-1", "node-2"} {
		n, err := node.Start(context.Background(), node.Config{
			Name: name, RedisURL: redisURL, Channel: ch, Events: w.bus, Clock: l.clock,
			Recovery: true, MaxDisconnection: 2 * time.Minute,
			// No heartbeat while a test moves the clock by minutes: the
			// real client could not answer in mock time.
			PingInterval: time.Hour,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		l.nodes[name] = n
		servers = append(servers, config.Server{Name: name, URL: n.URL()})
	}
	lb, err := balancer.Start(context.Background(), config.Config{
		Listener: config.Listener{Addr: "127.0.0.1:0"},
		ServerGroup: config.ServerGroup{
			Servers: servers,
			HealthCheck: config.HealthCheck{Path: "/healthz", Interval: config.Duration(100 * time.Millisecond),
				Timeout: config.Duration(time.Second), UnhealthyThreshold: 1},
		},
	}, balancer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })
	l.lb = lb
	return l
}

// recoverLine is one line recover.mjs prints.
type recoverLine struct {
	Ev        string
	Reader    string
	Sender    string
	Recovered bool
	Node      string
	Got       []string
}

// runRecoverScript starts recover.mjs against the lab's balancer; whileAway
// runs once the reader's node is killed and the reader saw it, before the
// reader is let back. It returns the script's last line.
func runRecoverScript(t *testing.T, nodeBin string, l *recoveryLab, count int, whileAway func()) recoverLine {
	t.Helper()
	cmd := sioclienttest.Command(ctxT(t), t, nodeBin, "recover.mjs", l.lb.URL(), strconv.Itoa(count))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	lines := bufio.NewScanner(stdout)
	next := func(want string) recoverLine {
		t.Helper()
		for lines.Scan() {
			var l recoverLine
			if err := json.Unmarshal(lines.Bytes(), &l); err != nil {
				t.Fatalf("recover.mjs printed %q: %v", lines.Text(), err)
			}
			if l.Ev == want {
				return l
			}
		}
		t.Fatalf("recover.mjs ended before %q: %v", want, lines.Err())
		return recoverLine{}
	}
	ready := next("ready")
	if ready.Reader == ready.Sender {
		t.Fatalf("reader and sender both on %s; the round robin should spread them", ready.Reader)
	}
	if err := l.nodes[ready.Reader].Kill(); err != nil {
		t.Fatal(err)
	}
	next("away")
	next("sent") // every message acknowledged while the reader is away
	whileAway()
	io.WriteString(stdin, "go\n")
	done := next("done")
	if done.Node == ready.Reader {
		t.Fatalf("the reader came back on %s, the node that was killed", done.Node)
	}
	return done
}

// TestTheRealClientRecoversItsSessionAndEveryMissedMessageOnAnotherNode is
// issue 17's test: the unmodified socket.io-client 4.8, reconnecting by
// itself through the balancer after its node was killed, gets its session
// back on the other node (socket.recovered) and each of the 100 messages
// sent while it was away, in order, once.
func TestTheRealClientRecoversItsSessionAndEveryMissedMessageOnAnotherNode(t *testing.T) {
	nodeBin := sioclienttest.Node(t)
	w := newWorld(t)
	for name, u := range recoveryRedises(t, w) {
		t.Run(name, func(t *testing.T) {
			l := startRecoveryLab(t, w, u)
			done := runRecoverScript(t, nodeBin, l, 100, func() {})
			if !done.Recovered {
				t.Fatalf("socket.recovered = false, want true")
			}
			if len(done.Got) != 100 {
				t.Fatalf("got %d of the sender's messages after recovering, want 100: %q", len(done.Got), done.Got)
			}
			for i, m := range done.Got {
				if want := "m" + strconv.Itoa(i+1); m != want {
					t.Fatalf("message %d: got %q, want %q (all: %q)", i+1, m, want, done.Got)
				}
			}
		})
	}
}

// TestTheRealClientPastTheWindowGetsANewSession: away longer than
// max_disconnection, the client gets a new session (socket.recovered
// false) and none of what it missed.
func TestTheRealClientPastTheWindowGetsANewSession(t *testing.T) {
	nodeBin := sioclienttest.Node(t)
	w := newWorld(t)
	for name, u := range recoveryRedises(t, w) {
		t.Run(name, func(t *testing.T) {
			l := startRecoveryLab(t, w, u)
			done := runRecoverScript(t, nodeBin, l, 10, func() {
				clocktest.Advance(t, l.clock, 2*time.Minute+time.Second)
			})
			if done.Recovered {
				t.Fatal("socket.recovered = true after 2m1s away with max_disconnection 2m, want a new session")
			}
			if len(done.Got) != 0 {
				t.Fatalf("a new session was replayed %d messages from before it: %q", len(done.Got), done.Got)
			}
		})
	}
}
