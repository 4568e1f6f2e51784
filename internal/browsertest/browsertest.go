// Package browsertest starts headless Chromium for tests that check what a
// person sees: pages open in real tabs, console errors and uncaught
// exceptions fail the test, and screenshots are kept for people to look at.
//
// Tests using it are opt-in: LAB_TEST_CHROMIUM names the browser binary
// (.ci/run sets it).
package browsertest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser is one headless Chromium.
type Browser struct {
	t   *testing.T
	ctx context.Context // the browser's first tab; new tabs derive from it
}

// New starts Chromium, or skips the test when LAB_TEST_CHROMIUM is unset.
// The browser is closed at the end of the test. Extra options are added to
// the command line, e.g. chromedp.Flag("host-resolver-rules", "MAP
// evil.example 127.0.0.1") to give a test a host name of its own.
func New(t *testing.T, extra ...chromedp.ExecAllocatorOption) *Browser {
	t.Helper()
	bin := os.Getenv("LAB_TEST_CHROMIUM")
	if bin == "" {
		t.Skip("set LAB_TEST_CHROMIUM=$(command -v chromium) to run browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(900, 700),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return &Browser{t: t, ctx: ctx}
}

// Page is one browser tab.
type Page struct {
	t    *testing.T
	Ctx  context.Context
	name string

	// mu guards errs and ignore.
	mu     sync.Mutex
	errs   []string
	ignore bool
}

// IgnoreConsoleErrors keeps this page's console errors from failing the
// test; they are logged instead. For a page that is meant to be refused:
// the browser reports every refused request on the console.
func (p *Page) IgnoreConsoleErrors() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ignore = true
}

// Open opens url in a new tab. Any console error or uncaught exception on
// the page fails the test at its end.
func (b *Browser) Open(name, url string) *Page {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	p := &Page{t: b.t, Ctx: ctx, name: name}
	console := chromedp.Console(ctx) // subscribes now, before the page loads
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range console {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				p.addErr(m.String())
			}
		}
	}()
	b.t.Cleanup(func() {
		cancel()
		<-done
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, e := range p.errs {
			if p.ignore {
				b.t.Logf("page %s: console (ignored): %s", name, e)
				continue
			}
			b.t.Errorf("page %s: console: %s", name, e)
		}
	})
	p.Do(chromedp.Navigate(url))
	return p
}

// Close closes the tab before the test ends (a test that opens a page
// many times); its console errors still fail the test.
func (p *Page) Close() {
	p.t.Helper()
	if err := chromedp.Cancel(p.Ctx); err != nil {
		p.t.Fatalf("page %s: close: %v", p.name, err)
	}
}

func (p *Page) addErr(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, s)
}

// timeout bounds every browser step.
const timeout = 15 * time.Second

// Do runs chromedp actions on the page.
func (p *Page) Do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("page %s: %v", p.name, err)
	}
}

// Eval evaluates a JavaScript expression and returns its value.
func Eval[T any](p *Page, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("page %s: evaluate %s: %v", p.name, js, err)
	}
	return v
}

// WaitFor waits until the JavaScript expression is truthy.
func (p *Page) WaitFor(js string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, timeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		text, _ := chromedp.Run(p.Ctx, chromedp.Evaluate[string]("document.body.innerText"))
		p.t.Fatalf("page %s: waiting for %s: %v\npage text:\n%s", p.name, js, err, text)
	}
}

// WaitText waits until the element with the given id contains text.
func (p *Page) WaitText(id, text string) {
	p.t.Helper()
	p.WaitFor("document.getElementById(" + quoteJS(id) + ").textContent.includes(" + quoteJS(text) + ")")
}

// Type types text into the element with the given id.
func (p *Page) Type(id, text string) {
	p.t.Helper()
	p.Do(chromedp.SendKeys(chromedp.ID(id), text))
}

// Click clicks the element with the given id.
func (p *Page) Click(id string) {
	p.t.Helper()
	p.Do(chromedp.Click(chromedp.ID(id)))
}

// Screenshot saves a PNG of the page under dir and returns its path.
func (p *Page) Screenshot(dir, name string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 means PNG
	if err != nil {
		p.t.Fatalf("page %s: screenshot: %v", p.name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	p.t.Logf("screenshot: %s", abs)
	return abs
}

// Click finds the button with the given text inside the element matched by
// the CSS selector, and clicks it.
func ClickIn(p *Page, sel, text string) {
	p.t.Helper()
	ok := Eval[bool](p, `(function () {
		var b = Array.from(document.querySelectorAll(`+quoteJS(sel+" button")+`)).find(function (b) { return b.textContent === `+quoteJS(text)+`; });
		if (b) b.click();
		return !!b;
	})()`)
	if !ok {
		p.t.Fatalf("page %s: no button %q in %s", p.name, text, sel)
	}
}

// SetValue sets an input's value as a user would have typed it.
func SetValue(p *Page, id, value string) {
	p.t.Helper()
	Eval[bool](p, `(function () { var e = document.getElementById(`+quoteJS(id)+`); e.value = `+quoteJS(value)+`; return true; })()`)
}

func quoteJS(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
