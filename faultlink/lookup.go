package faultlink

// ConnInfo is what a link knows of one of its open connections.
type ConnInfo struct {
	Client string // the client's address, as the link accepted it
	// Upstream is the address the link dialed the upstream from: the
	// client the upstream sees. "" until the dial is done.
	Upstream string
	HalfOpen bool // its NAT mapping was dropped, or its client moved
}

// Conn finds the open connection accepted from clientAddr (host:port). A
// lab uses it to follow a client through the link: which of the
// upstream's connections is that client's, and whether it can still hear
// anything.
func (l *Link) Conn(clientAddr string) (ConnInfo, bool) {
	for _, c := range l.open() {
		if c.client.RemoteAddr().String() != clientAddr {
			continue
		}
		info := ConnInfo{Client: clientAddr, HalfOpen: c.dropped.Load()}
		c.mu.Lock()
		if c.upstream != nil {
			info.Upstream = c.upstream.LocalAddr().String()
		}
		c.mu.Unlock()
		return info, true
	}
	return ConnInfo{}, false
}
