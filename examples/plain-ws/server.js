// A plain WebSocket app (the npm ws package, no Socket.IO) for the lab's
// `protocol: ws` scenarios and command nodes: an echo and a broadcast room
// with JSON messages, subprotocol negotiation, a server heartbeat that ends
// dead peers, /healthz, and a graceful stop that says 1001.
//
// WebSocket endpoints:
//   /echo          every message straight back, text or binary
//   /room[/NAME]   a broadcast room (default "lobby") on this server, JSON:
//     server → {"type":"welcome","node","id","room","protocol","members"}
//              {"type":"joined"|"left","id","members"} to the others
//     client → {"type":"broadcast","data":ANY} → everyone in the room,
//              sender included: {"type":"broadcast","from":ID,"node","data":ANY}
//              {"type":"ping"} → {"type":"pong"}
//     bad JSON, binary or an unknown type → {"type":"error","error":"…"};
//     the connection stays open
//
// Environment (the lab sets the first two for a command node):
//   PORT               port to listen on (required; 0 picks a free one)
//   LAB_NODE_NAME      this server's name (X-Lab-Node header, welcome)
//   HOST               listen address, default 127.0.0.1
//   SUBPROTOCOLS       comma-separated subprotocols the server accepts, in
//                      the client's order of preference (default chat.v1)
//   HEARTBEAT_MS       ping every client this often; one that has not
//                      answered the previous ping is terminated (30000)
//   SHUTDOWN_GRACE_MS  after SIGTERM, how long to keep serving (health
//                      answers 503) before closing every client with 1001
//   ALLOWED_ORIGINS    comma-separated host[:port] of pages of other origins
//                      that may connect (same-origin only by default)
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { WebSocketServer } from "ws";

const MAX_PAYLOAD = 64 << 10; // larger messages close with 1009, as the lab's nodes
const CLOSE_WAIT_MS = 3000; // after the 1001s, how long clients get to answer

const cfg = readConfig(process.env);
const log = (...args) => console.log(`plain-ws ${cfg.name}:`, ...args);

function readConfig(env) {
  const problems = [];
  const int = (name, def, min, max) => {
    const raw = env[name];
    if (raw === undefined || raw === "") {
      if (def === undefined) problems.push(`${name} is not set: want a number ${min}-${max}`);
      return def;
    }
    const v = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || v < min || v > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: want a whole number ${min}-${max}`);
      return def;
    }
    return v;
  };
  const list = (raw) => (raw || "").split(",").map((s) => s.trim()).filter(Boolean);
  const cfg = {
    port: int("PORT", undefined, 0, 65535),
    host: env.HOST || "127.0.0.1",
    name: env.LAB_NODE_NAME || "plain-ws",
    subprotocols: env.SUBPROTOCOLS === undefined ? ["chat.v1"] : list(env.SUBPROTOCOLS),
    heartbeatMs: int("HEARTBEAT_MS", 30000, 1, 3_600_000),
    graceMs: int("SHUTDOWN_GRACE_MS", 0, 0, 3_600_000),
    allowedOrigins: list(env.ALLOWED_ORIGINS),
  };
  if (problems.length) {
    for (const p of problems) console.error(`plain-ws: ${p}`);
    process.exit(2);
  }
  return cfg;
}

// ---------------------------------------------------------------- HTTP

let draining = false;
const rooms = new Map(); // room name → Set of sockets

const http = createServer((req, res) => {
  res.setHeader("X-Lab-Node", cfg.name);
  const path = new URL(req.url, "http://x").pathname;
  if (path === "/healthz" && (req.method === "GET" || req.method === "HEAD")) {
    res.writeHead(draining ? 503 : 200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ status: draining ? "draining" : "ok", node: cfg.name, mode: "ws", sessions: wss.clients.size }) + "\n");
    return;
  }
  res.writeHead(path === "/" ? 200 : 404, { "Content-Type": "text/plain; charset=utf-8" });
  res.end(`plain-ws example ${cfg.name}: open a WebSocket on /echo (every message back) or /room[/NAME] (JSON broadcast room); /healthz\n`);
});

// ---------------------------------------------------------------- WebSocket

const wss = new WebSocketServer({
  noServer: true,
  maxPayload: MAX_PAYLOAD,
  // The first protocol the client offers that this server speaks; none if
  // there is none (a browser that asked for one then fails the connection).
  handleProtocols: (offered) => [...offered].find((p) => cfg.subprotocols.includes(p)) ?? false,
});
wss.on("headers", (headers) => headers.push(`X-Lab-Node: ${cfg.name}`)); // on the 101 as well

http.on("upgrade", (req, socket, head) => {
  const path = new URL(req.url, "http://x").pathname;
  const route = path === "/echo" ? { kind: "echo" } : /^\/room(\/[^/]+)?$/.test(path) ? { kind: "room", room: decodeURIComponent(path.slice(6)) || "lobby" } : null;
  const problem = !route ? `no WebSocket at ${path}: use /echo or /room[/NAME]` : originProblem(req);
  if (problem) {
    const status = route ? "403 Forbidden" : "404 Not Found";
    socket.end(`HTTP/1.1 ${status}\r\nX-Lab-Node: ${cfg.name}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${problem}\n`);
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => (route.kind === "echo" ? echo(ws) : join(ws, route.room)));
});

// originProblem refuses a cross-origin page (same-origin unless allowed).
function originProblem(req) {
  const origin = req.headers.origin;
  if (!origin) return "";
  let host;
  try {
    host = new URL(origin).host;
  } catch {
    return `Origin ${JSON.stringify(origin)} is not a URL`;
  }
  if (host === req.headers.host || cfg.allowedOrigins.includes(host) || cfg.allowedOrigins.includes("*")) return "";
  return `Origin ${origin} is not ${req.headers.host}; allow it with ALLOWED_ORIGINS=${host}`;
}

function echo(ws) {
  watch(ws);
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
}

function join(ws, room) {
  watch(ws);
  ws.id = randomBytes(6).toString("base64url");
  const members = rooms.get(room) ?? new Set();
  rooms.set(room, members);
  const send = (to, msg) => to.readyState === to.OPEN && to.send(JSON.stringify(msg));
  const others = (msg) => members.forEach((m) => m !== ws && send(m, msg));
  members.add(ws);
  send(ws, { type: "welcome", node: cfg.name, id: ws.id, room, protocol: ws.protocol, members: members.size });
  others({ type: "joined", id: ws.id, members: members.size });

  ws.on("message", (data, isBinary) => {
    if (isBinary) return send(ws, { type: "error", error: 'binary messages are not supported here: send JSON text like {"type":"broadcast","data":"hi"}' });
    let msg;
    try {
      msg = JSON.parse(data.toString());
    } catch (err) {
      return send(ws, { type: "error", error: `invalid JSON ${JSON.stringify(data.toString().slice(0, 40))}: ${err.message}` });
    }
    switch (msg?.type) {
      case "broadcast":
        members.forEach((m) => send(m, { type: "broadcast", from: ws.id, node: cfg.name, data: msg.data ?? null }));
        break;
      case "ping":
        send(ws, { type: "pong" });
        break;
      default:
        send(ws, { type: "error", error: `unknown type ${JSON.stringify(msg?.type ?? null)}: want broadcast or ping` });
    }
  });
  ws.on("close", () => {
    members.delete(ws);
    if (members.size === 0) rooms.delete(room);
    else others({ type: "left", id: ws.id, members: members.size });
  });
}

// watch enrolls a socket in the heartbeat: every HEARTBEAT_MS the server
// pings; a peer that has not answered the previous ping is terminated (no
// close frame: its network is gone, nobody would read one).
function watch(ws) {
  ws.alive = true;
  ws.on("pong", () => (ws.alive = true));
  ws.on("error", (err) => log(`socket error: ${err.message}`)); // e.g. 1009, 1007: ws closes it
}
const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.alive) {
      log("terminated a client that did not answer the last ping");
      ws.terminate();
      continue;
    }
    ws.alive = false;
    ws.ping();
  }
}, cfg.heartbeatMs);

// ---------------------------------------------------------------- lifecycle

// shutdown: health fails at once so the balancer deregisters this server;
// the server keeps serving (new sockets too) for the grace period, then
// closes every WebSocket with 1001 (Going Away) and exits. A second signal
// ends the grace early — not the same one within a second: a SIGTERM to
// the process group (lab ctl node NAME stop) reaches this process and npm,
// and npm start passes its copy on.
const SAME_STOP_MS = 1000;
let skipGrace = null;
let firstSignal = { name: "", at: 0 };
function shutdown(signal) {
  if (skipGrace) {
    if (signal === firstSignal.name && Date.now() - firstSignal.at < SAME_STOP_MS) return;
    log(`${signal} again: closing now`);
    skipGrace();
    return;
  }
  draining = true;
  firstSignal = { name: signal, at: Date.now() };
  log(`${signal}: /healthz answers 503; closing every client with 1001 in ${cfg.graceMs} ms (SHUTDOWN_GRACE_MS)`);
  new Promise((resolve) => {
    const t = setTimeout(resolve, cfg.graceMs);
    skipGrace = () => {
      clearTimeout(t);
      resolve();
    };
  })
    .then(closeAll)
    .then(() => process.exit(0));
}

async function closeAll() {
  clearInterval(heartbeat);
  http.close(); // no new connections
  http.closeIdleConnections?.();
  const clients = [...wss.clients];
  const gone = clients.map((ws) => new Promise((resolve) => (ws.readyState === ws.CLOSED ? resolve() : ws.once("close", resolve))));
  for (const ws of clients) ws.close(1001, "node stopping");
  log(`closed ${clients.length} client(s) with 1001`);
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS, "late")));
  if ((await Promise.race([Promise.all(gone), late])) === "late") for (const ws of wss.clients) ws.terminate();
  clearTimeout(timer);
  log("stopped");
}

process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));

http.on("error", (err) => {
  console.error(`plain-ws ${cfg.name}: listen on ${cfg.host}:${cfg.port}: ${err.message}`);
  process.exit(1);
});
http.listen(cfg.port, cfg.host, () => {
  const { address, port } = http.address();
  log(`listening on http://${address}:${port} (subprotocols ${cfg.subprotocols.join(",") || "none"}, heartbeat ${cfg.heartbeatMs} ms, shutdown grace ${cfg.graceMs} ms)`);
});
