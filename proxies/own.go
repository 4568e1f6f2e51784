package proxies

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/wslab/wslab/balancer/config"
)

// Placeholders a user's own proxy config (lab up --balancer-config) may
// hold; the lab fills them in before the proxy reads the file.
//
//	{listen}    the front door, host:port (lab up --listen)
//	{dir}       the proxy's own folder: pid file, sockets, temp paths
//	{admin}     Caddy's admin API, host:port (the lab reloads through it)
//	{node-1}    node-1's host:port, and so on for every node
//	{servers}   every node in the proxy's own syntax: nginx "server
//	            HOST:PORT;" lines, HAProxy "server NAME HOST:PORT check"
//	            lines, Caddy's "HOST:PORT HOST:PORT" upstream list
var placeholder = regexp.MustCompile(`\{(listen|dir|admin|servers|[A-Za-z0-9_.-]+)\}`)

// FillIn fills the placeholders of a user's own config for kind. A
// {name} that is no node and no placeholder is left as it is (Caddy's
// own placeholders look the same: {host}, {http.request.uri}).
func FillIn(kind Kind, text, listen string, site Site, servers []config.Server) string {
	nodes := map[string]string{}
	var list []string
	for _, s := range servers {
		hp := hostPort(s)
		nodes[s.Name] = hp
		switch kind {
		case Nginx:
			list = append(list, fmt.Sprintf("server %s; # %s", hp, s.Name))
		case HAProxy:
			list = append(list, fmt.Sprintf("server %s %s check", s.Name, hp))
		default:
			list = append(list, hp)
		}
	}
	sep := "\n"
	if kind == Caddy {
		sep = " "
	}
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		name := m[1 : len(m)-1]
		switch name {
		case "listen":
			return listen
		case "dir":
			return site.Dir
		case "admin":
			return site.admin()
		case "servers":
			return strings.Join(list, sep)
		}
		if hp, ok := nodes[name]; ok {
			return hp
		}
		return m
	})
}
