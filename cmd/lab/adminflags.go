package main

import (
	"github.com/spf13/pflag"
)

// addAdminFlags adds the flags of who the admin API answers, shared by lab
// up and lab balancer.
func addAdminFlags(fl *pflag.FlagSet, token *string, hosts *[]string) {
	fl.StringVar(token, "admin-token", "", "bearer token the admin API requires (env LAB_ADMIN_TOKEN; required when --admin is not loopback); lab ctl sends $LAB_ADMIN_TOKEN, the dashboard takes it from its printed URL (#token=...)")
	fl.StringSliceVar(hosts, "admin-host", nil, "extra host names the admin API answers to in the Host header (e.g. lab.internal, '*.lab.example'); default: its address and loopback only")
}

// adminToken is --admin-token, else $LAB_ADMIN_TOKEN.
func adminToken(flag string) string {
	if flag != "" {
		return flag
	}
	return envOr("LAB_ADMIN_TOKEN", "")
}
