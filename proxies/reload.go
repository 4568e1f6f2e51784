package proxies

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MasterSocket is the HAProxy master CLI the lab runs at site (show proc).
func MasterSocket(site Site) string { return filepath.Join(site.Dir, "master.sock") }

// Reload applies file, which Check accepted, to the running proxy whose
// master process is pid, the way that proxy reloads: nginx -s reload
// (its pid file), SIGUSR2 to HAProxy's master, Caddy's admin API /load.
// For nginx and HAProxy it returns once the signal is sent; the new
// workers start after (see the lab's wait for them).
func Reload(ctx context.Context, kind Kind, file string, site Site, pid int) error {
	switch kind {
	case Nginx:
		bin, err := Binary(kind)
		if err != nil {
			return err
		}
		out, err := exec.CommandContext(ctx, bin, "-p", site.Dir+"/", "-e", "stderr", "-c", file, "-s", "reload").CombinedOutput()
		if err != nil {
			return fmt.Errorf("nginx -s reload: %s", ownError(kind, out, err))
		}
		return nil
	case HAProxy:
		p, err := os.FindProcess(pid)
		if err == nil {
			err = p.Signal(sigUSR2)
		}
		if err != nil {
			return fmt.Errorf("haproxy: SIGUSR2 to the master (pid %d): %w", pid, err)
		}
		return nil
	default:
		return caddyLoad(ctx, file, site)
	}
}

// caddyLoad posts the Caddyfile to Caddy's admin API, which applies it
// before it answers.
func caddyLoad(ctx context.Context, file string, site Site) error {
	body, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second) // wall time: a proxy's own work
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+site.admin()+"/load", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return fmt.Errorf("caddy: POST /load to its admin API at %s: %w", site.admin(), err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("caddy: POST /load answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// ask sends one command to a HAProxy CLI socket and returns its answer.
func ask(ctx context.Context, sock, command string) (string, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second)) // wall time: a proxy's own socket
	if _, err := io.WriteString(c, command+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// Workers lists the pids of HAProxy's current workers (not the old ones
// that finish their connections after a reload), from the master CLI.
func Workers(ctx context.Context, site Site) ([]int, error) {
	out, err := ask(ctx, MasterSocket(site), "show proc;quit") // the master CLI stays open without quit
	if err != nil {
		return nil, fmt.Errorf("haproxy: show proc on %s: %w", MasterSocket(site), err)
	}
	var pids []int
	section := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 0:
		case f[0] == "#":
			section = strings.Join(f[1:], " ")
		case strings.HasPrefix(f[0], "#"):
		case section == "workers" && len(f) > 1 && f[1] == "worker":
			if pid, err := strconv.Atoi(f[0]); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids, nil
}

// ServerStat is one server's line of HAProxy's show stat.
type ServerStat struct {
	Backend  string `json:"backend"` // the HAProxy backend (wslab_nodes in the lab's config)
	Name     string `json:"name"`
	Status   string `json:"status"`   // UP, DOWN, MAINT, no check, ...
	Weight   int    `json:"weight"`   // effective weight
	Current  int    `json:"current"`  // sessions open now (scur)
	Total    int    `json:"total"`    // sessions since start (stot)
	CheckMsg string `json:"check"`    // last health check (check_status)
	Downtime int    `json:"downtime"` // seconds down in all
}

// Stats reads HAProxy's own figures for its servers (show stat on the
// stats socket): what the lab's status shows for it.
func Stats(ctx context.Context, site Site) ([]ServerStat, error) {
	out, err := ask(ctx, StatsSocket(site), "show stat")
	if err != nil {
		return nil, fmt.Errorf("haproxy: show stat on %s: %w", StatsSocket(site), err)
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("haproxy: show stat: %q is not CSV", firstLine(out))
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	get := func(row []string, name string) string {
		if i, ok := col[name]; ok && i < len(row) {
			return row[i]
		}
		return ""
	}
	num := func(row []string, name string) int { n, _ := strconv.Atoi(get(row, name)); return n }
	var stats []ServerStat
	for _, row := range rows[1:] {
		if sv := get(row, "svname"); sv == "BACKEND" || sv == "FRONTEND" || sv == "" {
			continue
		}
		stats = append(stats, ServerStat{
			Backend: get(row, "pxname"), Name: get(row, "svname"), Status: get(row, "status"), Weight: num(row, "weight"),
			Current: num(row, "scur"), Total: num(row, "stot"), CheckMsg: get(row, "check_status"), Downtime: num(row, "downtime"),
		})
	}
	return stats, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
