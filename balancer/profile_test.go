package balancer_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/balancertest"
	"github.com/wslab/wslab/balancer/config"
)

// sinkTunnel opens a tunnel through a balancer started with cfg to a
// backend that accepts the upgrade and then only reads: nothing ever comes
// back. arrived gets every chunk the backend reads, so a test knows the
// balancer has seen what the client sent.
type sinkTunnel struct {
	r       *rig
	c       net.Conn
	br      *bufio.Reader
	arrived chan int
}

func openSink(t *testing.T, cfg config.Config, clk quartz.Clock, door ...balancer.FrontDoor) *sinkTunnel {
	t.Helper()
	arrived := make(chan int, 1024)
	url := balancertest.RawBackend(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		if !balancertest.Answer101(c, br) {
			return
		}
		buf := make([]byte, 4096)
		for {
			n, err := br.Read(buf)
			if n > 0 {
				arrived <- n
			}
			if err != nil {
				return
			}
		}
	})
	cfg.ServerGroup.Servers = []config.Server{{Name: "sink", URL: url}}
	cfg.ServerGroup.HealthCheck = noChecks()
	r := start(t, cfg, clk, door...)
	c := sendUpgrade(t, r.b.Addr())
	t.Cleanup(func() { c.Close() })
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(waitFor)) // the test's own bound
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	r.waitEvent(t, kind(opened))
	return &sinkTunnel{r: r, c: c, br: br, arrived: arrived}
}

// send writes frame from the client and waits until the backend has it.
func (s *sinkTunnel) send(t *testing.T, frame []byte) {
	t.Helper()
	if _, err := s.c.Write(frame); err != nil {
		t.Fatalf("client write: %v", err)
	}
	for got := 0; got < len(frame); {
		select {
		case n := <-s.arrived:
			got += n
		case <-time.After(waitFor):
			t.Fatalf("the backend got %d of %d bytes", got, len(frame))
		}
	}
}

// open reports how many tunnels the balancer has open.
func (s *sinkTunnel) open() int { return len(s.r.b.Status().Connections) }

// maskedPing is a client's ping frame with no payload.
var maskedPing = []byte{0x89, 0x80, 1, 2, 3, 4}

func TestAClientThatOnlySendsKeepsAnALBTunnelOpenButNotOneWhereOnlyBackendTrafficCounts(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		clk := quartz.NewMock(t)
		alb := openSink(t, config.Config{Profile: "aws-alb"}, clk, door)
		for range 5 { // 100 s, a message from the client every 20 s
			advance(t, clk, 20*time.Second)
			alb.send(t, maskedText("hi"))
		}
		if n := alb.open(); n != 1 {
			t.Fatalf("aws-alb after 100 s of client messages: %d tunnels open, want 1", n)
		}

		clk = quartz.NewMock(t)
		down := openSink(t, config.Config{Profile: "aws-alb", Listener: config.Listener{IdleReset: config.IdleResetBackendToClient}}, clk, door)
		for range 2 {
			advance(t, clk, 20*time.Second)
			down.send(t, maskedText("hi"))
		}
		advance(t, clk, 20*time.Second)
		if e := down.r.waitEvent(t, kind(closed)); e.Reason != balancer.ReasonIdleTimeout {
			t.Fatalf("only backend traffic counts: closed %s (%s), want idle_timeout at 60 s", e.Reason, e.Detail)
		}
	})
}

func TestAWSNLBProfileResetsAQuietConnectionAtItsIdleTimeout(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		clk := quartz.NewMock(t)
		s := openSink(t, config.Config{Profile: "aws-nlb"}, clk, door)
		advance(t, clk, 349*time.Second)
		if n := s.open(); n != 1 {
			t.Fatalf("at 349 s: %d tunnels open, want 1", n)
		}
		advance(t, clk, time.Second)
		if e := s.r.waitEvent(t, kind(closed)); e.Reason != balancer.ReasonIdleTimeout {
			t.Fatalf("at 350 s: closed %s (%s), want idle_timeout", e.Reason, e.Detail)
		}
		_, err := io.ReadAll(s.br)
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("the client's read ended with %v, want a TCP reset (connection reset by peer)", err)
		}
	})
}

func TestGCPProfileCutsABusyConnectionAtItsLifetimeCap(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		clk := quartz.NewMock(t)
		s := openSink(t, config.Config{Profile: "gcp-lb"}, clk, door)
		for range 5 { // a message every 5 s: busy, never idle
			advance(t, clk, 5*time.Second)
			s.send(t, maskedText("busy"))
		}
		if n := s.open(); n != 1 {
			t.Fatalf("at 25 s: %d tunnels open, want 1", n)
		}
		advance(t, clk, 5*time.Second)
		if e := s.r.waitEvent(t, kind(closed)); e.Reason != balancer.ReasonMaxLifetime {
			t.Fatalf("at 30 s: closed %s (%s), want max_lifetime", e.Reason, e.Detail)
		}
		if rest, err := io.ReadAll(s.br); err != nil || len(rest) != 0 {
			t.Fatalf("the client read %q, %v; want a plain end of stream (FIN, no close frame)", rest, err)
		}
	})
}

func TestAPIGatewayProfileIgnoresPingsAndSaysGoingAwayAtItsIdleTimeout(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		clk := quartz.NewMock(t)
		s := openSink(t, config.Config{Profile: "aws-api-gateway"}, clk, door)
		for range 9 { // a ping every minute does not count
			advance(t, clk, time.Minute)
			s.send(t, maskedPing)
		}
		advance(t, clk, time.Minute)
		if e := s.r.waitEvent(t, kind(closed)); e.Reason != balancer.ReasonIdleTimeout {
			t.Fatalf("at 10 min of pings: closed %s (%s), want idle_timeout", e.Reason, e.Detail)
		}
		if code, err := closeCodeOf(s.br); code != 1001 {
			t.Fatalf("the client got close code %d (%v), want 1001", code, err)
		}
	})
}

func TestAProfilesValuesGiveWayToTheUsers(t *testing.T) {
	clk := quartz.NewMock(t)
	s := openSink(t, config.Config{Profile: "aws-alb", Listener: config.Listener{IdleTimeout: config.Duration(2 * time.Minute)}}, clk)
	st := s.r.b.Status()
	if st.Profile != "aws-alb" || time.Duration(st.IdleTimeout) != 2*time.Minute {
		t.Fatalf("status: profile %q, idle timeout %s; want aws-alb with the user's 2m0s", st.Profile, st.IdleTimeout)
	}
	advance(t, clk, 60*time.Second)
	if n := s.open(); n != 1 {
		t.Fatalf("at the profile's 60 s: %d tunnels open, want 1 (the user's 2 min wins)", n)
	}
	advance(t, clk, 60*time.Second)
	if e := s.r.waitEvent(t, kind(closed)); e.Reason != balancer.ReasonIdleTimeout {
		t.Fatalf("at 2 min: closed %s, want idle_timeout", e.Reason)
	}
	if !strings.Contains(s.r.b.Snapshot(), "profile aws-alb") {
		t.Errorf("the summary %q does not name the profile", s.r.b.Snapshot())
	}
}

func TestAnALBRefusesAnUpgradeToALambdaTargetWith400(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		url := balancertest.RawBackend(t, func(c net.Conn) {
			defer c.Close()
			balancertest.Answer101(c, bufio.NewReader(c))
		})
		upgradeStatus := func(profile string) int {
			t.Helper()
			r := start(t, config.Config{Profile: profile, ServerGroup: config.ServerGroup{
				HealthCheck: noChecks(), Servers: []config.Server{{Name: "fn", URL: url, Type: "lambda"}},
			}}, quartz.NewMock(t), door)
			c := sendUpgrade(t, r.b.Addr())
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(waitFor)) // the test's own bound
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("%s: %v", profile, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == http.StatusBadRequest && !strings.Contains(string(body), "fn is a lambda target") {
				t.Errorf("%s: the 400 says %q, want it to name the lambda target", profile, body)
			}
			return resp.StatusCode
		}
		if got := upgradeStatus("aws-alb"); got != http.StatusBadRequest {
			t.Errorf("aws-alb, lambda target: got %d, want 400", got)
		}
		if got := upgradeStatus("aws-api-gateway"); got != http.StatusSwitchingProtocols {
			t.Errorf("aws-api-gateway, lambda integration: got %d, want 101 (API Gateway takes the upgrade)", got)
		}
	})
}

func TestAnALBProfileFailsOpenWhenEveryTargetIsUnhealthyAndAnAlibabaOneDoesNot(t *testing.T) {
	url := app(t, func(_, p string) int { return map[bool]int{true: 200, false: 404}[p == "/page"] })
	for profile, want := range map[string]int{"aws-alb": http.StatusOK, "ali-alb": http.StatusServiceUnavailable} {
		clk := quartz.NewMock(t)
		// The user's check settings win over the profile's; fail_open is the profile's.
		r := start(t, config.Config{Profile: profile, ServerGroup: config.ServerGroup{
			Servers: []config.Server{{Name: "app", URL: url}},
			HealthCheck: config.HealthCheck{Path: "/healthz", Method: "GET", SuccessCodes: "200",
				Interval: config.Duration(config.DefaultHealthInterval), UnhealthyThreshold: config.DefaultUnhealthyThreshold},
		}}, clk)
		for range config.DefaultUnhealthyThreshold {
			tick(t, r, clk, config.DefaultHealthInterval, 1)
		}
		if st := r.b.Status().Backends[0].State; st != "unhealthy" {
			t.Fatalf("%s: app is %s, want unhealthy", profile, st)
		}
		if resp := httpGet(t, r.b.URL()+"/page"); resp.StatusCode != want {
			t.Errorf("%s, every target unhealthy: GET /page got %d, want %d", profile, resp.StatusCode, want)
		}
	}
}
