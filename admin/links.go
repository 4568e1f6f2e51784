package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/wslab/wslab/faultlink"
)

// The fault links on the lab's hops. A name stands for every link it
// reaches (Config.LinkTargets): "client" on a lab with client processes is
// the client link and each process's own; the answer is the first link's
// status with the others under "also", and a count (reset, dropped,
// left_behind) is their sum.
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
	mux.HandleFunc("GET /api/links/{name}", s.withLinks(func(w http.ResponseWriter, r *http.Request, ks []*faultlink.Link) {
		writeJSON(w, http.StatusOK, statusOfAll(ks))
	}))
	mux.HandleFunc("PUT /api/links/{name}/faults", s.withLinks(func(w http.ResponseWriter, r *http.Request, ks []*faultlink.Link) {
		s.setFaults(w, r, ks, func(*faultlink.Link) faultlink.Faults { return faultlink.Faults{} })
	}))
	mux.HandleFunc("PATCH /api/links/{name}/faults", s.withLinks(func(w http.ResponseWriter, r *http.Request, ks []*faultlink.Link) {
		s.setFaults(w, r, ks, (*faultlink.Link).Faults)
	}))
	mux.HandleFunc("DELETE /api/links/{name}/faults", s.withLinks(func(w http.ResponseWriter, r *http.Request, ks []*faultlink.Link) {
		for _, k := range ks {
			k.Clear()
		}
		writeJSON(w, http.StatusOK, statusOfAll(ks))
	}))
	mux.HandleFunc("POST /api/links/{name}/reset", s.withLinks(func(w http.ResponseWriter, r *http.Request, ks []*faultlink.Link) {
		n := 0
		for _, k := range ks {
			n += k.Reset()
		}
		writeJSON(w, http.StatusOK, map[string]int{"reset": n})
	}))
	mux.HandleFunc("POST /api/links/{name}/nat-drop", s.withLinks(func(w http.ResponseWriter, r *http.Request, ks []*faultlink.Link) {
		total := 0
		for _, k := range ks {
			n, err := k.DropMappings()
			if err != nil {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			total += n
		}
		writeJSON(w, http.StatusOK, map[string]int{"dropped": total})
	}))
	mux.HandleFunc("POST /api/links/{name}/move", s.withLinks(func(w http.ResponseWriter, r *http.Request, ks []*faultlink.Link) {
		var to struct {
			SourceIP string `json:"source_ip"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<12))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&to); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("move: %v; send {\"source_ip\": \"127.0.0.2\"} (\"\" for the default address)", err))
			return
		}
		total := 0
		for _, k := range ks {
			n, err := k.Move(to.SourceIP)
			if err != nil {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			total += n
		}
		writeJSON(w, http.StatusOK, map[string]int{"left_behind": total})
	}))
}

// linkStatus is a link's counters and faults, with the faults in words
// as lab ctl link prints them (faultlink.Faults.String), for the dashboard.
// Also holds the other links a name stood for (the client processes'
// links, for "client").
type linkStatus struct {
	faultlink.Stats
	Summary string       `json:"summary"`
	Also    []linkStatus `json:"also,omitempty"`
}

func statusOf(k *faultlink.Link) linkStatus {
	st := k.Stats()
	return linkStatus{Stats: st, Summary: st.Faults.String()}
}

// statusOfAll is the first link's status with the others under Also.
func statusOfAll(ks []*faultlink.Link) linkStatus {
	st := statusOf(ks[0])
	for _, k := range ks[1:] {
		st.Also = append(st.Also, statusOf(k))
	}
	return st
}

func (s *Server) links() []*faultlink.Link {
	if s.cfg.Links == nil {
		return nil
	}
	return s.cfg.Links()
}

// withLinks finds the links the name in the path stands for, or answers
// 404 naming the links there are.
func (s *Server) withLinks(h func(http.ResponseWriter, *http.Request, []*faultlink.Link)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if s.cfg.LinkTargets != nil {
			ks, err := s.cfg.LinkTargets(name)
			if err != nil {
				writeError(w, http.StatusNotFound, strings.TrimPrefix(err.Error(), "lab: "))
				return
			}
			h(w, r, ks)
			return
		}
		var names []string
		for _, k := range s.links() {
			if k.Name() == name {
				h(w, r, []*faultlink.Link{k})
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

// setFaults reads a faultlink.Faults over each link's base and sets it;
// unknown fields and bad values are refused with every problem named,
// before any link changes.
func (s *Server) setFaults(w http.ResponseWriter, r *http.Request, ks []*faultlink.Link, base func(*faultlink.Link) faultlink.Faults) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("faults: %v", err))
		return
	}
	fs := make([]faultlink.Faults, len(ks))
	for i, k := range ks {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		fs[i] = base(k)
		if err := dec.Decode(&fs[i]); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("faults: %v; fields are up and down {latency, jitter, bandwidth}, black_hole, reset_new, slow_close, source_ip", err))
			return
		}
		if err := fs[i].Validate(k.ClientSide()); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("link %s: %v", k.Name(), err))
			return
		}
	}
	for i, k := range ks {
		if err := k.Set(fs[i]); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, statusOfAll(ks))
}
