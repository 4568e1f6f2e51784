// The lab's Redis: where it is, and the outages a scenario plays on it.

package lab

import (
	"errors"
)

// RedisDown cuts every node off the embedded Redis: an outage.
func (l *Lab) RedisDown() error {
	if l.link == nil {
		return errors.New("lab: only the embedded Redis can be cut")
	}
	l.link.Cut()
	return nil
}

// RedisUp ends the outage.
func (l *Lab) RedisUp() error {
	if l.link == nil {
		return errors.New("lab: only the embedded Redis can be cut")
	}
	return l.link.Restore()
}

// RedisUpEmpty ends the outage with a Redis that lost its data, as a
// redis-server restarted without persistence does: every session hash and
// the lab's epoch key are gone. Called while Redis is up, it restarts it.
func (l *Lab) RedisUpEmpty() error {
	if l.link == nil {
		return errors.New("lab: only the embedded Redis can be restarted empty")
	}
	if err := l.Redis.RestartEmpty(); err != nil {
		return err
	}
	return l.link.Restore()
}

// RedisAddr is the host:port of the Redis the lab uses.
func (l *Lab) RedisAddr() string {
	if l.Redis != nil {
		return l.Redis.Addr()
	}
	return l.cfg.RedisURL
}
