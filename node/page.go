package node

import (
	_ "embed"
	"net/http"
)

var (
	//go:embed page/index.html
	pageHTML []byte
	//go:embed page/chat.js
	pageJS []byte
	//go:embed page/favicon.svg
	pageIcon []byte
)

// pagePolicy keeps the page to its own origin: no external script, no inline
// script, WebSockets only back to where the page came from.
const pagePolicy = "default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; frame-ancestors 'none'"

func servePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pagePolicy)
	w.Write(pageHTML)
}

func serveScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Write(pageJS)
}

func serveIcon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Write(pageIcon)
}
