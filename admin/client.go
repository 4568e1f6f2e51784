package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls a running admin API, as lab ctl does.
type Client struct {
	base  string // http://host:port
	token string
}

// NewClient makes a client for the admin API at addr: host:port, as given
// to lab up --admin, or a URL (http://host:port). A token, when not empty,
// is sent as a bearer token.
func NewClient(addr, token string) (*Client, error) {
	raw := strings.TrimSpace(addr)
	if raw != "" && !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("admin address %q: want host:port like 127.0.0.1:8081, or a URL like http://127.0.0.1:8081", addr)
	}
	return &Client{base: u.Scheme + "://" + u.Host, token: strings.TrimSpace(token)}, nil
}

// URL is the base URL the client calls.
func (c *Client) URL() string { return c.base }

// APIError is an answer other than 2xx. Body is the API's JSON as sent.
type APIError struct {
	Status int
	Body   []byte
	msg    string
}

func (e *APIError) Error() string { return e.msg }

// UnreachableError means nothing answered at the client's address.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the admin API at %s: is the lab running there? (%v)", e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Do calls the API and returns the body of a 2xx answer. Other answers are
// an *APIError whose message is the API's reason (every problem of a
// rejected config, one per line); no answer is an *UnreachableError.
func (c *Client) Do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second) // wall clock: a person is waiting
	defer cancel()
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &UnreachableError{URL: c.base, Err: err}
	}
	if resp.StatusCode/100 != 2 {
		return raw, apiError(method, path, resp, raw)
	}
	return raw, nil
}

// Events opens the server-sent event stream; the caller reads and closes
// it. query (since=5m, last=100 or empty) asks for the kept events first.
func (c *Client) Events(ctx context.Context, query string) (io.ReadCloser, error) {
	path := "/api/events"
	if query != "" {
		path += "?follow=1&" + query
	}
	resp, err := c.send(ctx, "GET", path, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return nil, apiError("GET", path, resp, raw)
	}
	return resp.Body, nil
}

func (c *Client) send(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, err
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &UnreachableError{URL: c.base, Err: err}
	}
	return resp, nil
}

func apiError(method, path string, resp *http.Response, raw []byte) error {
	e := &APIError{Status: resp.StatusCode, Body: raw}
	var rej ReloadError
	var plain struct{ Error string }
	switch {
	case json.Unmarshal(raw, &rej) == nil && len(rej.Problems) > 0:
		e.msg = fmt.Sprintf("%s (generation %d):\n  %s", rej.Error, rej.Generation, strings.Join(rej.Problems, "\n  "))
	case json.Unmarshal(raw, &plain) == nil && plain.Error != "":
		e.msg = plain.Error
	default:
		e.msg = fmt.Sprintf("%s %s: %s", method, path, resp.Status)
	}
	return e
}
