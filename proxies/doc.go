// Package proxies runs the balancers people ship — nginx, HAProxy and
// Caddy — in the lab's place: it writes each one's config from the lab's
// balancer config (balancer/config), checks it with the proxy's own
// check, starts it unprivileged in a folder of its own, reloads it the
// way that proxy reloads, and reads the figures it exposes.
//
// What a proxy cannot express is said by name: a refusal (an *Unsupported
// error, every one at once) where running anyway would mislead, a Warning
// where the proxy does something close and the config says what.
//
// The versions this package writes for are Debian's: nginx 1.22, HAProxy
// 2.6 and Caddy 2.6 (no stream_close_delay, no weighted_round_robin, no
// health_passes/health_fails).
//
// # Concurrency
//
// Render, Check and the config writers are pure or run one short command
// and wait for it. Starting and stopping the proxy's process is the lab's
// (lab/proxy.go, on its process-group code); Reload and Stats are single
// calls the lab's control path makes one at a time.
package proxies
