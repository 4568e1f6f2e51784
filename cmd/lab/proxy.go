package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/proxies"
)

// addProxyFlags adds lab up's choice of front door.
func addProxyFlags(fl *pflag.FlagSet, f *upFlags) {
	fl.StringVar(&f.balancer, "balancer", lab.BuiltinBalancer, "the front door: wslab (built in), or nginx, haproxy or caddy run as a process with a config the lab writes from the same balancer config (lab export shows it)")
	fl.StringVar(&f.balancerConfig, "balancer-config", "", "run nginx, haproxy or caddy (--balancer) with your own config file; the lab fills in {listen}, {dir}, {admin}, {servers} and {node-1}... (README: Your balancer)")
}

// checkBalancer refuses a --balancer (lab up, lab scenario run) that is
// neither the built-in balancer nor a proxy the lab runs.
func checkBalancer(name string) error {
	if name != lab.BuiltinBalancer && !slices.Contains(proxies.Kinds(), proxies.Kind(name)) {
		return usageError(fmt.Errorf("--balancer: %q is not wslab, nginx, haproxy or caddy", name))
	}
	return nil
}

// checkProxyFlags refuses what does not go with the front door chosen.
func checkProxyFlags(f upFlags) error {
	if err := checkBalancer(f.balancer); err != nil {
		return err
	}
	if f.balancerConfig != "" && f.balancer == lab.BuiltinBalancer {
		return usageError(errors.New("--balancer-config is a config for nginx, haproxy or caddy: add --balancer nginx (or haproxy, caddy); the built-in balancer reads --config"))
	}
	if f.balancerConfig != "" {
		if _, err := os.Stat(f.balancerConfig); err != nil {
			return usageError(fmt.Errorf("--balancer-config: %w", err))
		}
	}
	if f.balancer != lab.BuiltinBalancer && f.tls != "" {
		return usageError(fmt.Errorf("--tls makes a self-signed certificate in the built-in balancer; %s needs files: set listener.tls.cert_file and key_file in --config", f.balancer))
	}
	return nil
}

// proxyReloader applies a document to the proxy in the balancer's place,
// as the config file watch and SIGHUP do for the built-in one.
type proxyReloader struct {
	ctx context.Context
	p   *lab.Proxy
}

func (r proxyReloader) ReloadYAML(data []byte) (uint64, error) {
	if len(data) == 0 { // --balancer-config alone: read the user's file again
		return r.p.Reload(r.ctx, config.Config{})
	}
	return r.p.ReloadYAML(r.ctx, data)
}

// printProxySummary is the front door's line of lab up's summary when it
// is a proxy.
func printProxySummary(w io.Writer, l *lab.Lab) {
	p := l.Proxy
	st := p.Status(context.Background())
	what := fmt.Sprintf("%s, idle timeout %s", st.Policy, st.IdleTimeout)
	if st.Own {
		what = "your config, filled in"
	}
	fmt.Fprintf(w, "  balancer  %-24s chat page %s/   (%s pid %d, %s; config %s)\n", p.URL(), p.URL(), p.Kind(), st.PID, what, st.Config)
	for _, warn := range st.Warnings {
		fmt.Fprintf(w, "  warning   %s\n", warn)
	}
	printLinkSummary(w, l)
}

// printProxyStatus is lab ctl status for a proxy in the balancer's place:
// what the lab gave it, and the proxy's own figures where it has them.
func printProxyStatus(w io.Writer, p proxies.Status, seed uint64) {
	what := fmt.Sprintf("policy %s  idle timeout %s", p.Policy, p.IdleTimeout)
	if p.Own {
		what = "your own config"
	}
	fmt.Fprintf(w, "balancer %s %s  pid %d  generation %d  %s  (seed %d)\n", p.Kind, p.URL, p.PID, p.Generation, what, seed)
	fmt.Fprintf(w, "config   %s\n", p.Config)
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "warning  %s\n", warn)
	}
	if p.Servers == nil {
		fmt.Fprintf(w, "\n%s\n", p.Figures)
		return
	}
	fmt.Fprintf(w, "\n%s's own figures (show stat):\n", p.Kind)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tSERVER\tSTATUS\tWEIGHT\tACTIVE\tTOTAL\tLAST CHECK")
	for _, s := range p.Servers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", s.Backend, s.Name, s.Status, s.Weight, s.Current, s.Total, s.CheckMsg)
	}
	tw.Flush()
}
