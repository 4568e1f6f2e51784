package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
)

// probeClient keeps no idle connections: nothing outlives a probe.
var probeClient = &http.Client{Timeout: probeTimeout, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

// probe asks whether a server answers at addr: a 2xx or 3xx for GET path,
// or, with no path, a port that accepts connections.
func probe(ctx context.Context, addr, path string) error {
	if path == "" {
		c, err := (&net.Dialer{Timeout: probeTimeout}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return fmt.Errorf("GET %s answered %s", path, resp.Status)
	}
	return nil
}
