package balancer

import (
	"net"
	"reflect"
)

// The frames a client hears when the balancer ends its tunnel with a
// close frame (drain.close_frame, listener.cut: close_frame): 1001 Going
// Away, with the reason as text, so a client's log says why.
var (
	idleFrame     = closeFrame(1001, "idle timeout")
	lifetimeFrame = closeFrame(1001, "max lifetime")
)

// goAwayFrame is the close frame goAway sends for reason.
func goAwayFrame(reason string) []byte {
	switch reason {
	case ReasonIdleTimeout:
		return idleFrame
	case ReasonMaxLifetime:
		return lifetimeFrame
	}
	return drainFrame
}

// abort makes the close of the client's connection a TCP reset.
func (p *netPair) abort() { lingerZero(p.client) }

// lingerZero sets SO_LINGER 0 on c (or the TCP connection under a TLS
// one), so that closing it sends a reset.
func lingerZero(c net.Conn) {
	for {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
			return
		}
		if u, ok := c.(interface{ NetConn() net.Conn }); ok { // TLS
			c = u.NetConn()
			continue
		}
		// The front door's wrappers (replayConn, headerConn) embed the
		// connection they wrap.
		v := reflect.ValueOf(c)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			return
		}
		f := v.Elem().FieldByName("Conn")
		if !f.IsValid() || f.Type() != reflect.TypeFor[net.Conn]() || f.IsNil() {
			return
		}
		c = f.Interface().(net.Conn)
	}
}
