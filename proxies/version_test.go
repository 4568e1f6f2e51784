package proxies_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/wslab/wslab/proxies"
)

// The dashboard's front-door card says which version of the proxy runs,
// as the program itself says it.
func TestVersionIsTheNumberTheProgramPrints(t *testing.T) {
	for _, kind := range []proxies.Kind{proxies.Nginx, proxies.HAProxy, proxies.Caddy} {
		t.Run(string(kind), func(t *testing.T) {
			needProxy(t, kind)
			bin, _ := proxies.Binary(kind)
			v, err := proxies.Version(context.Background(), kind, bin)
			if err != nil || !regexp.MustCompile(`^\d+\.\d+\.\d+\S*$`).MatchString(v) {
				t.Fatalf("%s's version: got %q, %v, want a version number such as 1.22.1", kind, v, err)
			}
		})
	}
}
