// Package dashboard is the lab's live page, served by the admin API at /:
// the routes and the fault links (with their faults form), the front door
// when it is nginx, HAProxy or Caddy, nodes as cards with health, a
// sparkline and their figures (close reasons and upgrade answer time
// included), charts of connections and answer time, the connections with
// the oldest listed, the event timeline, fault buttons, the config editor
// with errors beside the field, and chatting test clients. Embedded; no
// external script; no build step.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
)

//go:embed ui
var files embed.FS

// policy keeps the page to its own origin: no external script, and no
// inline script but the page's one boot script, allowed by its hash.
var policy = "default-src 'self'; script-src 'self' " + bootHash() + "; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"

// bootHash is the CSP source of index.html's inline script: the one that
// asks for the first status before the stylesheet and app.js are loaded
// (a round trip to fetch it would be the very wait it saves).
func bootHash() string {
	page, err := files.ReadFile("ui/index.html")
	if err != nil {
		panic("dashboard: " + err.Error())
	}
	_, rest, ok := bytes.Cut(page, []byte("<script>"))
	script, _, ok2 := bytes.Cut(rest, []byte("</script>"))
	if !ok || !ok2 {
		panic("dashboard: index.html has no inline boot script")
	}
	sum := sha256.Sum256(script)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// Handler serves the dashboard's files.
func Handler() http.Handler {
	sub, _ := fs.Sub(files, "ui")
	static := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", policy)
		w.Header().Set("Cache-Control", "no-cache")
		static.ServeHTTP(w, r)
	})
}
