package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/wslab/wslab/store"
)

// entryRecorder collects what a StreamReader delivers.
type entryRecorder struct{ ch chan store.Entry }

func (r entryRecorder) Entry(e store.Entry) { r.ch <- e }
func (r entryRecorder) State(error)         {}

func TestTheStreamHandsAReaderEveryEntryAfterItsPositionInOrder(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			c := dial(t, b.url, uniqueChannel(t))
			tip, err := c.StreamTip(ctx, 100)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := c.StreamHas(ctx, tip); err != nil || !ok {
				t.Fatalf("StreamHas(tip %s) = %v, %v; want true: an empty stream gets a marker", tip, ok, err)
			}
			first, err := c.Append(ctx, store.Message{From: "n1", Text: "a: 1"}, 100)
			if err != nil {
				t.Fatal(err)
			}
			rec := entryRecorder{make(chan store.Entry, 16)}
			r := c.Follow(first, rec) // starts after the first entry
			defer r.Close()
			for _, text := range []string{"a: 2", "a: 3"} {
				if _, err := c.Append(ctx, store.Message{From: "n1", Text: text}, 100); err != nil {
					t.Fatal(err)
				}
			}
			for _, want := range []string{"a: 2", "a: 3"} {
				select {
				case e := <-rec.ch:
					if e.Text != want {
						t.Fatalf("got %q, want %q", e.Text, want)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("no entry %q within 5s", want)
				}
			}
			got, err := c.After(ctx, first, 10)
			if err != nil || len(got) != 2 || got[0].Text != "a: 2" || got[1].Text != "a: 3" {
				t.Fatalf("After(first) = %v, %v; want the two later entries", got, err)
			}
		})
	}
}

func TestAppendOnceTakesAMessageIdOnlyOnce(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			c := dial(t, b.url, uniqueChannel(t))
			key := c.Stream() + ":dedup:s1:m1"
			for i, want := range []bool{false, true} {
				dup, err := c.AppendOnce(ctx, store.Message{Text: "x"}, 100, key, time.Minute)
				if err != nil || dup != want {
					t.Fatalf("append %d: got dup=%v, %v; want %v", i+1, dup, err, want)
				}
			}
			if n, _ := c.Redis().XLen(ctx, c.Stream()).Result(); n != 1 {
				t.Fatalf("stream length %d, want 1", n)
			}
		})
	}
}

func TestTheStreamStaysBoundedByItsMaximumLength(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			c := dial(t, b.url, uniqueChannel(t))
			for range 2000 {
				if _, err := c.Append(ctx, store.Message{Text: "x"}, 100); err != nil {
					t.Fatal(err)
				}
			}
			// Approximate trimming keeps whole nodes: a little over 100.
			if n, _ := c.Redis().XLen(ctx, c.Stream()).Result(); n < 100 || n > 300 {
				t.Fatalf("stream length %d after 2000 appends with MAXLEN ~100, want about 100", n)
			}
		})
	}
}

func TestAResumableSessionIsReadBackUntilDropped(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			c := dial(t, b.url, "")
			pid := uniqueChannel(t)
			want := store.Resumable{PID: pid, SID: "s1", Tag: "t1", Seen: 1000}
			if err := c.SaveResumable(ctx, want, time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := c.SetResumableName(ctx, pid, "alice"); err != nil {
				t.Fatal(err)
			}
			if err := c.TouchResumable(ctx, []string{pid, pid + "-none"}, 2000, time.Minute); err != nil {
				t.Fatal(err)
			}
			want.Username, want.Seen = "alice", 2000
			got, ok, err := c.LoadResumable(ctx, pid)
			if err != nil || !ok || got != want {
				t.Fatalf("got %+v, %v, %v; want %+v", got, ok, err, want)
			}
			if _, ok, _ := c.LoadResumable(ctx, pid+"-none"); ok {
				t.Fatal("touching a missing record created it")
			}
			if err := c.DropResumable(ctx, pid); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := c.LoadResumable(ctx, pid); ok {
				t.Fatal("record still there after DropResumable")
			}
		})
	}
}
