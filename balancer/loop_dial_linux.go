//go:build linux

package balancer

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Connecting the loop's handshakes to a backend: the policy's pick, a host
// name resolved by the standard resolver off the loop, a non-blocking
// connect per address, and the next backend after a refusal.

// tryNext connects to the next backend the policy picks, or answers the
// client when none is left.
func (l *loop) tryNext(hs *pending) {
	for {
		t := hs.try.next()
		if t == nil {
			code, reason := hs.try.answer()
			l.refuse(hs, code, reason)
			return
		}
		hs.t = t
		if t.literal {
			hs.addrs = append(hs.addrs[:0], t.ap)
			if err := l.connect(hs); err != nil {
				hs.try.failed(t, err)
				continue
			}
			return
		}
		l.resolve(hs, t)
		return
	}
}

// resolve looks a backend's host name up off the loop, then connects.
func (l *loop) resolve(hs *pending, t *target) {
	l.b.serveWG.Add(1)
	go func() {
		defer l.b.serveWG.Done()
		addrs, err := lookup(l.b.ctx, t.addr)
		l.post(func() {
			if hs.over {
				return
			}
			if err == nil {
				hs.addrs = addrs
				err = l.connect(hs)
			}
			if err != nil {
				hs.try.failed(t, err)
				l.tryNext(hs)
			}
		})
	}()
}

// lookup resolves host:port, IPv4 addresses first.
func lookup(ctx context.Context, addr string) ([]netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port %q", port)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	var out []netip.AddrPort
	for _, v4 := range []bool{true, false} {
		for _, ip := range ips {
			if ip.Unmap().Is4() == v4 {
				out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(p)))
			}
		}
	}
	return out, nil
}

// connect starts connecting to hs.addrs[0], trying the next address when
// one is refused at once; the error is the last address's.
func (l *loop) connect(hs *pending) error {
	var err error
	for len(hs.addrs) > 0 {
		ap := hs.addrs[0]
		hs.addrs = hs.addrs[1:]
		if err = l.connectTo(hs, ap); err == nil {
			return nil
		}
	}
	return err
}

func (l *loop) connectTo(hs *pending, ap netip.AddrPort) error {
	if l.b.ctx.Err() != nil {
		l.refuse(hs, http.StatusServiceUnavailable, "")
		return nil
	}
	fd, err := sysSocket(ap)
	if err != nil {
		return dialError(ap, "socket", err)
	}
	sysNoDelay(fd)
	err = sysConnect(fd, ap, &l.rsa)
	if err != nil && err != unix.EINPROGRESS && err != unix.EINTR {
		sysClose(fd)
		return dialError(ap, "connect", err)
	}
	hs.ap = ap
	s := &sock{fd: fd, hs: hs, peer: hs.client}
	if !l.add(s) {
		return dialError(ap, "epoll_ctl", unix.ENOMEM)
	}
	hs.backend, hs.client.peer = s, s
	l.wait(&l.dials, hs, dialTimeout) // connected or not, epoll says when it is writable
	return nil
}

// nextAddr goes on after connecting to hs.ap failed with err: to the
// backend's next address, else to the next backend.
func (l *loop) nextAddr(hs *pending, err error) {
	if len(hs.addrs) > 0 && l.connect(hs) == nil {
		return
	}
	hs.try.failed(hs.t, err)
	l.tryNext(hs)
}

// dialError reads as net.Dialer's errors do.
func dialError(ap netip.AddrPort, call string, err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(ap), Err: os.NewSyscallError(call, err)}
}

// connected runs when a connecting backend socket turns writable: either
// it is connected, and the request goes out, or it failed (epoll says so
// with EPOLLERR), and the next backend is tried. Only a failure costs a
// system call to learn why.
func (l *loop) connected(hs *pending, failed bool) {
	s := hs.backend
	var err error
	if failed {
		if err = sysSoError(s.fd); err == nil {
			err = unix.ECONNRESET // hung up before anything was sent
		}
	}
	switch err {
	case nil:
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return // woken early
	default:
		l.unwait(hs)
		l.closeSock(s)
		hs.backend, hs.client.peer = nil, nil
		l.nextAddr(hs, dialError(hs.ap, "connect", err))
		return
	}
	l.unwait(hs)
	l.sendRequest(hs)
}
