package node

import (
	"context"
	"fmt"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/store"
)

// restoreBatch is how many session hashes one pipelined round trip writes
// back.
const restoreBatch = 128

// checkEpoch asks the keeper to compare the store's epoch with the one this
// node knows. It never blocks; kicks while a check is pending merge.
func (n *Node) checkEpoch() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// keep runs the keeper until ctx ends: on every kick it checks whether Redis
// lost its data and, if so, writes back the session of every client of this
// node from what the node holds, so that chat goes on with nobody having to
// set their name again.
func (n *Node) keep(ctx context.Context) {
	defer close(n.keeperDone)
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		}
		n.reconcile(ctx)
	}
}

func (n *Node) reconcile(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	epoch, err := n.store.Epoch(ctx)
	if err != nil {
		if ctx.Err() == nil {
			n.storeResult(err) // the recovery that follows kicks again
		}
		return
	}
	n.storeResult(nil)
	if epoch == n.epoch {
		return
	}
	restored, named, err := n.restoreSessions(ctx)
	if err != nil {
		n.storeResult(err)
		return // n.epoch unchanged: the next kick tries again
	}
	n.epoch = epoch
	n.log.Info("redis lost its data; sessions restored", "sessions", restored, "named", named)
	n.publish(events.Event{Kind: events.StoreRestored, Detail: fmt.Sprintf(
		"redis came back without its data; restored %s (%d with a username) from this node", plural(restored, "session"), named)})
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// restoreSessions writes back the hash of every client in the room, in
// batches. Each session's lock is held while its hash is written, so a
// restore never undoes a newer username or revives a deleted session.
func (n *Node) restoreSessions(ctx context.Context) (restored, named int, err error) {
	n.membersMu.Lock()
	all := make([]*session, 0, len(n.members))
	for _, s := range n.members {
		all = append(all, s)
	}
	n.membersMu.Unlock()
	for len(all) > 0 {
		batch := all[:min(restoreBatch, len(all))]
		all = all[len(batch):]
		var sessions []store.Session
		for _, s := range batch {
			s.storeMu.Lock()
			if !s.gone {
				sessions = append(sessions, store.Session{ID: s.sid, Username: s.name})
				if s.name != "" {
					named++
				}
			}
		}
		err = n.store.RestoreSessions(ctx, sessions)
		for _, s := range batch {
			s.storeMu.Unlock()
		}
		if err != nil {
			return restored, named, err
		}
		restored += len(sessions)
	}
	return restored, named, nil
}
