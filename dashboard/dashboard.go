// Package dashboard is the lab's live page, served by the admin API at /:
// the routes and the fault links (with their faults form), nodes as cards
// with health, a sparkline and their figures (close reasons and upgrade
// answer time included), charts of connections and answer time, the
// connections with the oldest listed, the event timeline, fault buttons,
// the config editor with errors beside the field, and chatting test
// clients. Embedded; no external script; no build step.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed ui
var files embed.FS

// policy keeps the page to its own origin: no external or inline script.
const policy = "default-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"

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
