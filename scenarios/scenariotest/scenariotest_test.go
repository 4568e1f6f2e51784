package scenariotest_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/scenarios"
	"github.com/wslab/wslab/scenarios/scenariotest"
)

// goName is a step's Driver method: expect_reload_rejected is
// ExpectReloadRejected, reload_yaml ReloadYAML.
func goName(step string) string {
	var b strings.Builder
	for _, w := range strings.Split(step, "_") {
		if w == "yaml" {
			b.WriteString("YAML")
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// TestEveryStepHasADriverMethodTakingWhatTheYAMLTakes walks the step
// table: each step has a Driver method of its name whose one parameter is
// the step's argument type (a time.Duration for a duration, a string for
// config text), so the Go API and the file format cannot drift apart.
func TestEveryStepHasADriverMethodTakingWhatTheYAMLTakes(t *testing.T) {
	driver := reflect.TypeFor[*scenariotest.Driver]()
	for _, st := range scenarios.Steps() {
		name := goName(st.Name)
		m, ok := driver.MethodByName(name)
		if !ok {
			t.Errorf("step %s has no Driver method %s", st.Name, name)
			continue
		}
		want := st.Arg
		switch want {
		case reflect.TypeFor[config.Duration]():
			want = reflect.TypeFor[time.Duration]()
		case reflect.TypeFor[scenarios.ReloadYAMLArgs]():
			want = reflect.TypeFor[string]()
		}
		if m.Type.NumIn() != 2 || m.Type.In(1) != want || m.Type.NumOut() != 0 {
			t.Errorf("Driver.%s is %s, want func(%s)", name, m.Type, want)
		}
	}
}
