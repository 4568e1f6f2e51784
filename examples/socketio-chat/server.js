// The tutorial's chat (an Alibaba Cloud ALB WebSocket guide: Flask-SocketIO
// behind a load balancer, Redis between the servers) written on the npm
// socket.io server with @socket.io/redis-adapter, to run as the lab's command
// nodes. It sends the same events and texts as the lab's own chat nodes
// (node/ in this repository; README "The chat nodes"), so the lab's
// scenarios, its Go client, its chat page and the real socket.io-client work
// against it unchanged.
//
// Environment (the lab sets the first three for a command node):
//   PORT               port to listen on (required; 0 picks a free one)
//   LAB_NODE_NAME      this server's name: X-Lab-Node header, "node" event
//   REDIS_URL          redis://host:port/db shared by every server
//   HOST               listen address, default 127.0.0.1
//   SHUTDOWN_GRACE_MS  after SIGTERM, how long to keep serving (health
//                      answers 503) before closing every client with 1001
//   PING_INTERVAL_MS, PING_TIMEOUT_MS  Engine.IO heartbeat (25000, 20000)
//   ALLOWED_ORIGINS    comma-separated host[:port] of pages of other origins
//                      that may open a socket (same-origin only by default)
//   PAGE_DIR           chat page to serve (default: the lab's, node/page)
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { cfg, readConfig } from "./config.js";

// The settings are checked before the server's packages load (seconds on a
// busy machine), so a bad one is reported at once.
const here = dirname(fileURLToPath(import.meta.url));
Object.assign(cfg, readConfig(process.env, { page: join(here, "..", "..", "node", "page"), fallbackPage: join(here, "public") }));
await import("./app.js");
