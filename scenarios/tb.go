package scenarios

import (
	"fmt"
	"sync"
)

// clockTB is the small testing.TB the mock clock needs, for runs outside
// go test. Errors are kept and turn into a failed step; Fatal also stops
// the step, as it stops a test (runStep recovers it).
type clockTB struct {
	// mu guards the fields below.
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (t *clockTB) Helper()             {}
func (t *clockTB) Log(...any)          {}
func (t *clockTB) Logf(string, ...any) {}
func (t *clockTB) Error(a ...any)      { t.add(fmt.Sprint(a...)) }
func (t *clockTB) Errorf(f string, a ...any) {
	t.add(fmt.Sprintf(f, a...))
}
func (t *clockTB) Fatal(a ...any) {
	t.add(fmt.Sprint(a...))
	panic(clockFatal{})
}
func (t *clockTB) Fatalf(f string, a ...any) {
	t.add(fmt.Sprintf(f, a...))
	panic(clockFatal{})
}

// clockFatal unwinds a step after the mock clock's Fatal.
type clockFatal struct{}

func (t *clockTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *clockTB) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errs = append(t.errs, s)
}

// takeErr returns and clears the errors so far.
func (t *clockTB) takeErr() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.errs) == 0 {
		return ""
	}
	s := fmt.Sprint(t.errs)
	t.errs = nil
	return s
}

func (t *clockTB) runCleanups() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
