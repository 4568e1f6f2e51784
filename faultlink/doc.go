// Package faultlink is a TCP relay that plays network faults on one hop of
// the lab, in the manner of Toxiproxy: a link listens, relays every
// connection to its upstream, and applies the faults set on it — to new
// connections and to the ones already open — until they are changed or
// cleared.
//
// The faults (see Faults): latency with jitter and a bandwidth cap, each
// per direction; a black hole (accept and read, forward and answer
// nothing); a reset (RST to both ends, SO_LINGER 0) of the open
// connections (Link.Reset) and of every new one (Faults.ResetNew); a slow
// close (a FIN held back). The link in front of the balancer (ClientSide)
// also plays the client's network: a NAT that forgets its mappings
// (Link.DropMappings: the open connections go silently half-open) and a
// client whose address changes (Link.Move: new connections come from the
// new address, open ones are left behind; Faults.SourceIP alone changes
// only the new ones).
//
// # Time
//
// Latency, jitter, bandwidth pacing and slow close wait on the link's
// quartz.Clock. On a mock clock they elapse only when the clock is
// advanced: a chunk with 200ms of latency is delivered when the scenario
// advances the clock past the time it was read plus 200ms, not 200ms of
// wall time later. A link without those faults never waits on its clock,
// so a clean link on a mock clock passes bytes at once. Dials use wall
// time (DefaultDialTimeout): they are the operating system's business.
//
// # Client addresses
//
// Faults.SourceIP makes new connections reach the upstream from another
// address, through net.Dialer.LocalAddr. Nothing is re-dialed: a TCP
// connection cannot follow its client to a new address, so Link.Move
// leaves the open ones as a real move leaves them — the server's side
// silently half-open, the client reset the next time it sends. On Linux every 127.0.0.0/8
// address is loopback, so 127.0.0.2, 127.0.0.3... work as they are. On
// macOS and the BSDs only 127.0.0.1 exists until an alias is added
// (sudo ifconfig lo0 alias 127.0.0.2); without it the dial fails with an
// error that says so, and the client gets a RST. Windows is said to accept
// the whole 127.0.0.0/8 range like Linux (not tried here).
//
// # Concurrency
//
// A Link owns its accept loop and, per connection, one goroutine that
// dials and then waits for four: a reader and a writer per direction. A
// reader reads into a bounded queue (so a slow direction pushes back on
// its sender, as a slow network does); its writer applies the faults and
// writes. The fault state is an immutable value behind an atomic pointer;
// Set swaps it and closes the old value's channel, which wakes every wait
// so it recomputes with the new faults. Close stops the listener, closes
// every connection and waits for every goroutine. All methods are safe for
// concurrent use.
package faultlink
