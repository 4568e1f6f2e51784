package scenarios_test

import (
	"context"
	"flag"
	"github.com/wslab/wslab/internal/helpernode"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/wslab/wslab/scenarios"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts")

// quietRedis keeps go-redis's dial retries (the redis-outage scenario
// makes many) out of the test log.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	helpernode.MainIfAsked()       // this binary may be a command node of a test
	if os.Getenv(beClient) != "" { // this binary is a client process of a test
		os.Exit(runHelperClient())
	}
	redis.SetLogger(quietRedis{})
	goleak.VerifyTestMain(m)
}

// TestBuiltins runs every built-in scenario and compares its transcript
// with the golden file: the same seed gives the same transcript, byte for
// byte, every run.
func TestBuiltins(t *testing.T) {
	all, err := scenarios.Builtins()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 9 {
		t.Fatalf("%d built-ins, want at least the nine of the spec", len(all))
	}
	var virtual, wall time.Duration
	for _, sc := range all {
		t.Run(sc.Name, func(t *testing.T) {
			res := scenarios.Run(context.Background(), sc, scenarios.Options{})
			virtual += res.Virtual
			wall += res.Wall
			got := strings.Join(res.Transcript, "\n") + "\n"
			if !res.Passed {
				t.Fatalf("failed: %s\ntranscript:\n%s", res.Failure, got)
			}
			golden := filepath.Join("testdata", sc.Name+".golden")
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./scenarios -run TestBuiltins -update to create it)", err)
			}
			if got != string(want) {
				t.Fatalf("transcript differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
	t.Logf("built-ins: %s of virtual time in %s of wall time", virtual, wall.Round(time.Millisecond))
}
