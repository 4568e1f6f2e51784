package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/faultlink"
	"github.com/wslab/wslab/lab"
)

// LinkArgs set or clear faults on one of the lab's links (lab.links:
// true): "client" in front of the balancer, or a node's name. Fields
// given change that fault; the others stay as they are. The names are
// those of faultlink, the admin API and lab ctl link.
type LinkArgs struct {
	Link string `yaml:"link"` // client, node-1, ...
	// Clear removes every fault first; with nothing else, the link is clean.
	Clear bool `yaml:"clear"`
	// Direction is where latency, jitter and bandwidth apply: both
	// (default), up (client → upstream) or down.
	Direction string           `yaml:"direction"`
	Latency   *config.Duration `yaml:"latency"`
	Jitter    *config.Duration `yaml:"jitter"`
	Bandwidth string           `yaml:"bandwidth"` // bytes per second: 256KiB, 1MB, 0 lifts the cap
	Blackhole *bool            `yaml:"blackhole"` // forward and answer nothing; false ends it
	Reset     bool             `yaml:"reset"`     // RST both ends of every open connection
	ResetNew  *bool            `yaml:"reset_new"` // RST every new connection
	SlowClose *config.Duration `yaml:"slow_close"`
	NATDrop   bool             `yaml:"nat_drop"` // client: the NAT forgets every open mapping
	Move      string           `yaml:"move"`     // client: it changes address (127.0.0.2; "default" for the link's own)
}

func checkLink(a LinkArgs) string {
	var bad []string
	if a.Link == "" {
		bad = append(bad, "link is required: client or a node's name")
	}
	if a.Direction != "" && a.Direction != "both" && a.Direction != "up" && a.Direction != "down" {
		bad = append(bad, fmt.Sprintf("direction %q is not both, up or down", a.Direction))
	}
	for name, d := range map[string]*config.Duration{"latency": a.Latency, "jitter": a.Jitter, "slow_close": a.SlowClose} {
		if d != nil && *d < 0 {
			bad = append(bad, fmt.Sprintf("%s %s is negative (0 clears it)", name, time.Duration(*d)))
		}
	}
	if a.Jitter != nil && (a.Latency == nil || *a.Jitter > *a.Latency) {
		bad = append(bad, "jitter needs a latency at least as large, in the same step (latency: 200ms, jitter: 50ms)")
	}
	if a.Bandwidth != "" {
		if _, err := faultlink.ParseBytes(a.Bandwidth); err != nil {
			bad = append(bad, fmt.Sprintf("bandwidth: %v (per second, like 256KiB; 0 lifts the cap)", err))
		}
	}
	if a.Move != "" && a.Move != "default" {
		if _, err := netip.ParseAddr(a.Move); err != nil {
			bad = append(bad, fmt.Sprintf("move %q is not an IP address (like 127.0.0.2; default for the link's own)", a.Move))
		}
	}
	if a.Link != "" && a.Link != lab.ClientLink && (a.NATDrop || a.Move != "") {
		bad = append(bad, "nat_drop and move play the client's network: only on link client")
	}
	return strings.Join(bad, "; ")
}

// linkStep applies a link step to the links it names (lab.LinkTargets):
// "client" on a lab with client processes is their links too.
func (r *run) linkStep(ctx context.Context, a LinkArgs) error {
	targets, err := r.lab.LinkTargets(a.Link)
	if err != nil {
		return err
	}
	var did []string
	for i, k := range targets {
		d, err := applyLink(k, a)
		if err != nil {
			return fmt.Errorf("link %s: %w", k.Name(), err)
		}
		if i == 0 {
			did = d
		}
	}
	if len(targets) > 1 {
		did = append(did, fmt.Sprintf("on the links of %d client processes too", len(targets)-1))
	}
	r.say("link %s: %s", a.Link, strings.Join(did, "; "))
	r.observe(ctx)
	return nil
}

// applyLink sets a step's faults on k, then acts on its open
// connections; it says what it did.
func applyLink(k *faultlink.Link, a LinkArgs) ([]string, error) {
	f := k.Faults()
	if a.Clear {
		f = faultlink.Faults{SourceIP: f.SourceIP}
	}
	dirs := []*faultlink.Direction{&f.Up, &f.Down}
	switch a.Direction {
	case "up":
		dirs = dirs[:1]
	case "down":
		dirs = dirs[1:]
	}
	for _, d := range dirs {
		if a.Latency != nil {
			d.Latency, d.Jitter = faultlink.Duration(*a.Latency), 0
		}
		if a.Jitter != nil {
			d.Jitter = faultlink.Duration(*a.Jitter)
		}
		if a.Bandwidth != "" {
			d.Bandwidth, _ = faultlink.ParseBytes(a.Bandwidth)
		}
	}
	if a.Blackhole != nil {
		f.BlackHole = *a.Blackhole
	}
	if a.ResetNew != nil {
		f.ResetNew = *a.ResetNew
	}
	if a.SlowClose != nil {
		f.SlowClose = faultlink.Duration(*a.SlowClose)
	}
	if err := k.Set(f); err != nil {
		return nil, err
	}
	did := []string{"faults " + f.String()}
	if a.Reset {
		did = append(did, fmt.Sprintf("reset %d open connections", k.Reset()))
	}
	if a.NATDrop {
		n, err := k.DropMappings()
		if err != nil {
			return nil, err
		}
		did = append(did, fmt.Sprintf("the NAT dropped %d open mappings (silent half-open)", n))
	}
	if a.Move != "" {
		to := a.Move
		if to == "default" {
			to = ""
		}
		n, err := k.Move(to)
		if err != nil {
			return nil, err
		}
		did = append(did, fmt.Sprintf("the client moved to %s; %d open connections left behind", a.Move, n))
	}
	return did, nil
}

// seenAs is the client address the balancer (or node) sees for a
// connection p opened from local: through the client link, the link's
// own side of it.
func (r *run) seenAs(p *player, local string) string {
	k := r.lab.Link(lab.ClientLink)
	if p.via != "balancer" || k == nil {
		return local
	}
	info, _ := k.Conn(local)
	return info.Upstream
}

// halfOpen reports whether p's connection lost its NAT mapping (or its
// client moved): a close on the far side never reaches it.
func (r *run) halfOpen(p *player) bool {
	k := r.lab.Link(lab.ClientLink)
	if p.via != "balancer" || k == nil || p.c == nil {
		return false
	}
	info, ok := k.Conn(p.c.LocalAddr)
	return ok && info.HalfOpen
}
