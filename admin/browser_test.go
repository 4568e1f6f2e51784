package admin_test

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wslab/wslab/dashboard"
	"github.com/wslab/wslab/internal/browsertest"
	"github.com/wslab/wslab/lab"
)

// serve serves h on a free loopback port until the test ends.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// attack is a page that tries to reload the balancer and kill node-1
// through the admin API at base ("" for its own origin), then sets
// window.outcome to what the browser let it see.
func attack(base string) http.Handler {
	page := `<!doctype html><title>a page</title><script>
var base = ` + "`" + base + "`" + `;
function attempt(p) { return p.then(function (r) { return String(r.status); }, function (e) { return "blocked"; }); }
Promise.all([
  attempt(fetch(base + "/api/config", {method: "PUT", headers: {"Content-Type": "application/yaml"}, body: "listener: {idle_timeout: 5s}\n"})),
  attempt(fetch(base + "/api/nodes/node-1/kill", {method: "POST", mode: "no-cors"})),
  attempt(fetch(base + "/api/status")),
]).then(function (r) { window.outcome = r.join(" "); });
</script>`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	})
}

// TestPagesOfOtherOriginsCannotChangeTheLab: in a real browser, a page on
// another origin (another port of 127.0.0.1) and a page whose host name
// was re-pointed at the admin API (DNS rebinding: evil.example resolves to
// 127.0.0.1 and the page is same-origin with the API it calls) both try to
// reload the config and kill a node; the config and the node are
// unchanged.
func TestPagesOfOtherOriginsCannotChangeTheLab(t *testing.T) {
	b := browsertest.New(t, chromedp.Flag("host-resolver-rules", "MAP evil.example 127.0.0.1"))
	l := startLab(t, lab.Config{Nodes: 1})

	t.Run("another origin", func(t *testing.T) {
		other := serve(t, attack(l.Admin.URL()))
		p := b.Open("other-origin", "http://"+other+"/")
		p.IgnoreConsoleErrors()
		p.WaitFor(`window.outcome !== undefined`)
		t.Logf("what the page saw (reload, kill, read): %s", browsertest.Eval[string](p, `window.outcome`))
	})

	t.Run("a rebound host name", func(t *testing.T) {
		// The browser's requests for evil.example:PORT reach this server:
		// it serves the page at /, and forwards the rest to the admin API
		// with the browser's Host, as a rebound DNS name would deliver them.
		admin, _ := url.Parse(l.Admin.URL())
		fwd := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(admin)
			r.Out.Host = r.In.Host
		}}
		page := attack("")
		addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/" {
				page.ServeHTTP(w, r)
				return
			}
			fwd.ServeHTTP(w, r)
		}))
		p := b.Open("rebound", "http://evil.example:"+addr[strings.LastIndexByte(addr, ':')+1:]+"/")
		p.IgnoreConsoleErrors()
		p.WaitFor(`window.outcome !== undefined`)
		if got := browsertest.Eval[string](p, `window.outcome`); got != "421 421 421" {
			t.Errorf("the rebound page saw %q, want 421 for the reload, the kill and the read", got)
		}
	})

	checkGeneration(t, l, 1)
	if !l.Nodes()[0].State().Listening {
		t.Fatal("node-1 is down: a page killed it")
	}
}

// TestTheDashboardAuthenticatesWithTheTokenInItsURL: with a token, the
// dashboard opened as http://ADDR/#token=TOKEN shows the lab live and
// applies a config; the token leaves the address bar.
func TestTheDashboardAuthenticatesWithTheTokenInItsURL(t *testing.T) {
	const token = "dashboard-token-0123456789"
	b := browsertest.New(t)
	l := startLab(t, lab.Config{Nodes: 2, AdminToken: token, Dashboard: dashboard.Handler()})
	p := b.Open("dashboard", l.Admin.URL()+"/#token="+token)
	p.WaitFor(`document.getElementById("stream").textContent === "live"`)
	p.WaitFor(`document.querySelectorAll("#cards .card").length === 2`)
	if h := browsertest.Eval[string](p, `location.hash`); h != "" {
		t.Errorf("the address bar still shows %q, want the token gone", h)
	}
	browsertest.SetValue(p, "f-idle", "45s")
	p.Click("apply-form")
	p.WaitFor(`document.getElementById("generation").textContent === "2"`)
	// A reload of the page keeps working: the tab kept the token.
	p.Do(chromedp.Reload())
	p.WaitFor(`document.getElementById("stream").textContent === "live"`)
	checkGeneration(t, l, 2)
}
