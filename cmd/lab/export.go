package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/proxies"
)

func newExportCmd() *cobra.Command {
	var (
		file, dir, caddyAdmin string
		nodes, nodePort       int
	)
	cmd := &cobra.Command{
		Use:   "export nginx|haproxy|caddy",
		Short: "Print the nginx, HAProxy or Caddy config the lab writes from its balancer config",
		Long: `Print the config lab up --balancer nginx|haproxy|caddy would write for the
balancer config in --config (the same file lab up --config takes), so that you
can diff it against your own. Without servers in the file, the lab's nodes are
the servers: --nodes of them from --node-port on, checked on /healthz.

What the proxy cannot express is refused (the command fails and names the
field) or warned about on stderr, one line each ("nginx: server_group.health_check:
nginx OSS has no active health checks; ..."). The config runs unprivileged: its
pid file, temp paths, sockets and data live in --dir.

Written for the versions Debian ships: nginx 1.22, HAProxy 2.6, Caddy 2.6.`,
		Example: `  lab export nginx --config lab.yaml > nginx.conf
  lab export haproxy --nodes 3 --node-port 9001
  lab export caddy --config lab.yaml --dir /tmp/caddy --caddy-admin 127.0.0.1:2999`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"nginx", "haproxy", "caddy"},
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			kind, err := proxies.ParseKind(args[0])
			if err != nil {
				return usageError(errors.New(err.Error()[len("proxies: "):]))
			}
			var doc config.Config
			if file != "" {
				if doc, err = config.LoadFile(file); err != nil {
					return usageError(fmt.Errorf("--config %s: %s", file, config.OneLine(err)))
				}
			}
			if dir == "" {
				dir = filepath.Join(os.TempDir(), "wslab-"+string(kind))
			}
			cfg := config.Compose(config.Config{}, doc, nodeServers(nodes, nodePort), nil)
			text, warns, err := proxies.Render(kind, cfg, proxies.Site{Dir: dir, AdminAddr: caddyAdmin})
			for _, w := range warns {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			if err != nil {
				return usageError(errors.New(config.OneLine(err)))
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), text)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&file, "config", "", "balancer config file (YAML or JSON), as lab up --config")
	fl.IntVar(&nodes, "nodes", 2, "number of nodes when the config lists no servers")
	fl.IntVar(&nodePort, "node-port", 9001, "port of node-1 when the config lists no servers; node-i gets node-port+i-1")
	fl.StringVar(&dir, "dir", "", "the proxy's own folder: pid file, temp paths, sockets (default $TMPDIR/wslab-PROXY)")
	fl.StringVar(&caddyAdmin, "caddy-admin", "127.0.0.1:2019", "Caddy's admin API address, which the lab reloads through")
	return cmd
}

// nodeServers is the lab's default server group: n nodes on 127.0.0.1
// from port on, checked on /healthz, as lab up writes it.
func nodeServers(n, port int) config.Config {
	var c config.Config
	for i := range n {
		c.ServerGroup.Servers = append(c.ServerGroup.Servers,
			config.Server{Name: fmt.Sprintf("node-%d", i+1), URL: fmt.Sprintf("http://127.0.0.1:%d", port+i)})
	}
	c.ServerGroup.HealthCheck.Path = "/healthz"
	return c
}
