package admin

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/wslab/wslab/faultlink"
)

// The fault links on the lab's hops:
//
//	GET    /api/links                   every link's faults and counters
//	GET    /api/links/{name}            one link's
//	PUT    /api/links/{name}/faults     replace its faults (a faultlink.Faults)
//	PATCH  /api/links/{name}/faults     change the fields given, keep the rest
//	DELETE /api/links/{name}/faults     clear them
//	POST   /api/links/{name}/reset      RST both ends of its open connections
//	POST   /api/links/{name}/nat-drop   its NAT forgets every open mapping (client link)
//	POST   /api/links/{name}/move       the client changes address: {"source_ip": "127.0.0.2"} (client link)
func (s *Server) linkRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/links", func(w http.ResponseWriter, r *http.Request) {
		out := []linkStatus{}
		for _, k := range s.links() {
			out = append(out, statusOf(k))
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /api/links/{name}", s.withLink(func(w http.ResponseWriter, r *http.Request, k *faultlink.Link) {
		writeJSON(w, http.StatusOK, statusOf(k))
	}))
	mux.HandleFunc("PUT /api/links/{name}/faults", s.withLink(func(w http.ResponseWriter, r *http.Request, k *faultlink.Link) {
		s.setFaults(w, r, k, faultlink.Faults{})
	}))
	mux.HandleFunc("PATCH /api/links/{name}/faults", s.withLink(func(w http.ResponseWriter, r *http.Request, k *faultlink.Link) {
		s.setFaults(w, r, k, k.Faults())
	}))
	mux.HandleFunc("DELETE /api/links/{name}/faults", s.withLink(func(w http.ResponseWriter, r *http.Request, k *faultlink.Link) {
		k.Clear()
		writeJSON(w, http.StatusOK, statusOf(k))
	}))
	mux.HandleFunc("POST /api/links/{name}/reset", s.withLink(func(w http.ResponseWriter, r *http.Request, k *faultlink.Link) {
		writeJSON(w, http.StatusOK, map[string]int{"reset": k.Reset()})
	}))
	mux.HandleFunc("POST /api/links/{name}/nat-drop", s.withLink(func(w http.ResponseWriter, r *http.Request, k *faultlink.Link) {
		n, err := k.DropMappings()
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"dropped": n})
	}))
	mux.HandleFunc("POST /api/links/{name}/move", s.withLink(func(w http.ResponseWriter, r *http.Request, k *faultlink.Link) {
		var to struct {
			SourceIP string `json:"source_ip"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<12))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&to); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("move: %v; send {\"source_ip\": \"127.0.0.2\"} (\"\" for the default address)", err))
			return
		}
		n, err := k.Move(to.SourceIP)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"left_behind": n})
	}))
}

// linkStatus is a link's counters and faults, with the faults in words
// as lab ctl link prints them (faultlink.Faults.String), for the dashboard.
type linkStatus struct {
	faultlink.Stats
	Summary string `json:"summary"`
}

func statusOf(k *faultlink.Link) linkStatus {
	st := k.Stats()
	return linkStatus{Stats: st, Summary: st.Faults.String()}
}

func (s *Server) links() []*faultlink.Link {
	if s.cfg.Links == nil {
		return nil
	}
	return s.cfg.Links()
}

// withLink finds the link named in the path, or answers 404 naming the
// links there are.
func (s *Server) withLink(h func(http.ResponseWriter, *http.Request, *faultlink.Link)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		var names []string
		for _, k := range s.links() {
			if k.Name() == name {
				h(w, r, k)
				return
			}
			names = append(names, k.Name())
		}
		if len(names) == 0 {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no link %q: this lab has no links (start it with lab up --links)", name))
			return
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("no link %q; links are: %s", name, strings.Join(names, ", ")))
	}
}

// setFaults reads a faultlink.Faults over base and sets it; unknown fields
// and bad values are refused with every problem named.
func (s *Server) setFaults(w http.ResponseWriter, r *http.Request, k *faultlink.Link, base faultlink.Faults) {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	f := base
	if err := dec.Decode(&f); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("faults: %v; fields are up and down {latency, jitter, bandwidth}, black_hole, reset_new, slow_close, source_ip", err))
		return
	}
	if err := k.Set(f); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, statusOf(k))
}
