package proxies

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Binary finds kind's program on PATH.
func Binary(kind Kind) (string, error) {
	path, err := exec.LookPath(string(kind))
	if err != nil {
		return "", fmt.Errorf("%s is not installed (no %q on PATH): install it (Debian: apt-get install %s), or pick another --balancer (wslab, nginx, haproxy, caddy)", kind, kind, kind)
	}
	return path, nil
}

// versionRE finds the version in what nginx -v ("nginx version:
// nginx/1.22.1"), haproxy -v ("HAProxy version 2.6.12-1+deb12u4
// 2026/10/17 - ...") and caddy version ("v2.6.2 h1:..." or "2.6.2") print.
var versionRE = regexp.MustCompile(`(?:nginx/|HAProxy version |^v?)(\d+\.\d+[^\s]*)`)

// Version asks bin, kind's program, for its version, as it writes it:
// "1.22.1", "2.6.12-1+deb12u4", "2.6.2".
func Version(ctx context.Context, kind Kind, bin string) (string, error) {
	arg := "-v"
	if kind == Caddy {
		arg = "version"
	}
	out, err := exec.CommandContext(ctx, bin, arg).CombinedOutput() // nginx -v writes to stderr
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", bin, arg, err)
	}
	m := versionRE.FindSubmatch(bytes.TrimSpace(out))
	if m == nil {
		return "", fmt.Errorf("%s %s: no version in %q", bin, arg, firstLine(string(out)))
	}
	return string(m[1]), nil
}

// ConfigFile is where the lab writes kind's config inside site.Dir.
func ConfigFile(kind Kind, site Site) string {
	name := map[Kind]string{Nginx: "nginx.conf", HAProxy: "haproxy.cfg", Caddy: "Caddyfile"}[kind]
	return filepath.Join(site.Dir, name)
}

// Env is what kind's environment needs on top of the lab's: Caddy keeps
// its data and config (certificates, autosave.json) under site.Dir, not
// the user's home.
func Env(kind Kind, site Site) []string {
	if kind == Caddy {
		return []string{"XDG_DATA_HOME=" + filepath.Join(site.Dir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(site.Dir, "config")}
	}
	return nil
}

// Args is the command line that runs kind in the foreground with file,
// as its own process (the lab's process group), bin being Binary's path.
func Args(kind Kind, bin, file string, site Site) []string {
	switch kind {
	case Nginx: // daemon off is in the config
		return []string{bin, "-p", site.Dir + "/", "-e", "stderr", "-c", file}
	case HAProxy: // master-worker, in the foreground, its master CLI in site.Dir
		return []string{bin, "-W", "-db", "-S", MasterSocket(site), "-f", file}
	default:
		return []string{bin, "run", "--config", file, "--adapter", "caddyfile"}
	}
}

// CheckError is a config the proxy's own check refused, with its words.
type CheckError struct {
	Kind Kind
	File string
	Msg  string // the proxy's own error, one line
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("%s rejects %s: %s; fix the config (lab export %s shows what the lab writes)", e.Kind, e.File, e.Msg, e.Kind)
}

// Check runs the proxy's own check of file (nginx -t, haproxy -c, caddy
// validate).
func Check(ctx context.Context, kind Kind, file string, site Site) error {
	bin, err := Binary(kind)
	if err != nil {
		return err
	}
	var args []string
	switch kind {
	case Nginx:
		args = []string{"-t", "-q", "-p", site.Dir + "/", "-e", "stderr", "-c", file}
	case HAProxy:
		args = []string{"-c", "-f", file}
	default:
		args = []string{"validate", "--config", file, "--adapter", "caddyfile"}
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), Env(kind, site)...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: checking %s: %w", kind, file, ctx.Err())
	}
	return &CheckError{Kind: kind, File: file, Msg: ownError(kind, out, err)}
}

// OwnError picks, from what kind printed, the lines that say what is
// wrong (nginx's [emerg], HAProxy's [ALERT], Caddy's Error:), joined in
// one line; "" when there are none.
func OwnError(kind Kind, output string) string {
	return ownError(kind, []byte(output), nil)
}

// ownError picks the lines of a proxy's output that say what is wrong.
func ownError(kind Kind, out []byte, err error) string {
	var picked []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case kind == Nginx && (strings.Contains(line, "[emerg]") || strings.Contains(line, "[alert]")):
			line = line[max(strings.Index(line, "[emerg]"), strings.Index(line, "[alert]")):]
			picked = append(picked, nginxPID.ReplaceAllString(line, "$1"))
		case kind == HAProxy && strings.Contains(line, "[ALERT]") && !strings.Contains(line, "rror(s) found") && !strings.Contains(line, "Fatal errors found"):
			if _, msg, ok := strings.Cut(line, ") : "); ok {
				line = msg
			}
			picked = append(picked, line)
		case kind == Caddy && strings.HasPrefix(line, "Error:"):
			picked = append(picked, strings.TrimPrefix(line, "Error: "))
		}
	}
	if len(picked) == 0 && err == nil {
		return ""
	}
	if len(picked) == 0 {
		if s := strings.TrimSpace(string(bytes.TrimSpace(out))); s != "" {
			picked = append(picked, lastLine(s))
		} else {
			picked = append(picked, err.Error())
		}
	}
	return strings.Join(picked, "; ")
}

// nginxPID is the "pid#tid: " after the level of nginx's error lines.
var nginxPID = regexp.MustCompile(`^(\[\w+\] )\d+#\d+: `)

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// ErrNoPID is a reload of a proxy the lab does not know to be running.
var ErrNoPID = errors.New("proxies: the proxy is not running")
