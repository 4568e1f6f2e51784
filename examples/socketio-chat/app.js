// The chat server itself; server.js loads it once the settings are read.
import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";

import { usernameProblem, textArg, characters } from "./chat.js";
import { cfg } from "./config.js";

// The tutorial app's texts, exactly as the lab's nodes send them.
const WELCOME = "Welcome to the chatroom!";
const NO_USERNAME = "Failed to send the message. Specify a username first.";
const STORE_DOWN_SEND = "Failed to send the message: the chat store (Redis) is unreachable.";
const STORE_DOWN_NAME = "Failed to set the username: the chat store (Redis) is unreachable.";
const MAX_USERNAME = 32;
const MAX_MESSAGE = 2000;
const STORE_TIMEOUT_MS = 5000; // bounds each Redis call made for a client
const CLOSE_WAIT_MS = 3000; // after the 1001s, how long clients get to answer

const log = (...args) => console.log(`socketio-chat ${cfg.name}:`, ...args);

// ---------------------------------------------------------------- Redis

// Commands fail at once while Redis is away (no offline queue), so a user is
// told instead of having the message delivered whenever Redis comes back.
// During start-up a failed connection ends the process with the reason.
let started = false;
const reconnectStrategy = (retries, cause) =>
  started ? Math.min(50 * 2 ** retries, 2000) : new Error(`cannot reach Redis at ${cfg.redisURL} (REDIS_URL): ${cause?.message ?? cause}`);
const pub = createClient({ url: cfg.redisURL, disableOfflineQueue: true, socket: { reconnectStrategy, connectTimeout: 5000 } });
const sub = pub.duplicate();

let storeDown = false;
function storeState(up, err) {
  if (up === !storeDown) return;
  storeDown = !up;
  if (up) log("redis reachable again");
  else log(`REDIS UNREACHABLE: ${err?.message ?? err}`);
}
for (const c of [pub, sub]) {
  c.on("error", (err) => started && storeState(false, err));
  c.on("ready", () => started && pub.isReady && sub.isReady && storeState(true));
}

// store runs one Redis command for a client, bounded in time.
async function store(call) {
  if (!pub.isReady) throw new Error("redis is not connected");
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis did not answer within ${STORE_TIMEOUT_MS} ms`)), STORE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([call(pub), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// The adapter publishes without waiting for the answer; a publish that fails
// because Redis just went away must not end the process.
process.on("unhandledRejection", (err) => log(`unhandled rejection (kept serving): ${err?.stack ?? err}`));

// ---------------------------------------------------------------- HTTP

const pagePolicy = "default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; frame-ancestors 'none'";
const page = loadPage(cfg.pageDir);
let draining = false;

function loadPage(dir) {
  const files = { "/": ["index.html", "text/html; charset=utf-8"], "/chat.js": ["chat.js", "text/javascript; charset=utf-8"], "/favicon.svg": ["favicon.svg", "image/svg+xml"] };
  const out = new Map();
  for (const [path, [file, type]] of Object.entries(files)) {
    const p = join(dir, file);
    if (existsSync(p)) out.set(path, { body: readFileSync(p), type });
  }
  return out;
}

const http = createServer((req, res) => {
  res.setHeader("X-Lab-Node", cfg.name);
  const path = new URL(req.url, "http://x").pathname;
  if (path === "/healthz" && (req.method === "GET" || req.method === "HEAD")) {
    const body = {
      status: draining ? "draining" : "ok",
      node: cfg.name,
      mode: "chat",
      redis: storeDown ? "unreachable" : "ok",
      sessions: io.of("/").sockets.size,
    };
    res.writeHead(draining ? 503 : 200, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body) + "\n");
    return;
  }
  const file = page.get(path);
  if (file && (req.method === "GET" || req.method === "HEAD")) {
    res.writeHead(200, { "Content-Type": file.type, "Content-Security-Policy": pagePolicy });
    res.end(req.method === "HEAD" ? undefined : file.body);
    return;
  }
  res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
  res.end(`${req.method} ${path}: not found. This is the socketio-chat example: / (chat page), /healthz, /socket.io/\n`);
});

// ---------------------------------------------------------------- Socket.IO

const io = new Server(http, {
  // The WebSocket transport only, as the lab's nodes: long polling needs
  // every request of a session on one server (sticky sessions), which a
  // round-robin balancer does not give. Clients: io(url, {transports: ["websocket"]}).
  transports: ["websocket"],
  pingInterval: cfg.pingInterval,
  pingTimeout: cfg.pingTimeout,
  maxHttpBufferSize: 64 << 10, // the nodes' read limit: larger messages close with 1009
  serveClient: true, // /socket.io/socket.io.js, for the fallback page
  allowRequest: (req, callback) => {
    const problem = originProblem(req, cfg.allowedOrigins);
    if (problem) log(`refused a socket: ${problem}`);
    callback(problem || null, !problem);
  },
});
io.engine.on("headers", (headers) => {
  headers["X-Lab-Node"] = cfg.name; // on the 101 as well, as the nodes do
});

// originProblem refuses a cross-origin page (same-origin unless allowed), so
// a page on another site cannot use a visitor's browser to chat here.
function originProblem(req, allowed) {
  const origin = req.headers.origin;
  if (!origin) return ""; // not a browser
  let host;
  try {
    host = new URL(origin).host;
  } catch {
    return `Origin ${JSON.stringify(origin)} is not a URL`;
  }
  if (host === req.headers.host || allowed.includes(host) || allowed.includes("*")) return "";
  return `Origin ${origin} is not ${req.headers.host}; allow it with ALLOWED_ORIGINS=${host}`;
}

const key = (sid) => `session:${sid}`;

io.on("connection", (socket) => {
  // One event at a time per client, in the order they came, as the lab's
  // nodes read them: a message sent right after set_username sees the name.
  let queue = Promise.resolve();
  const serial = (fn) => (...args) => {
    queue = queue.then(() => fn(...args)).catch((err) => log(`client ${socket.id}: ${err?.stack ?? err}`));
  };
  const say = (text) => socket.emit("message", text);

  serial(async () => {
    socket.emit("node", cfg.name);
    try {
      await store((r) => r.hSet(key(socket.id), "username", ""));
    } catch (err) {
      storeState(false, err);
    }
    say(WELCOME);
  })();

  socket.on("set_username", serial(async (...args) => {
    const ack = typeof args.at(-1) === "function" ? args.pop() : null;
    const name = textArg(args);
    if (name === null) say("Failed to set the username: it must be text.");
    else {
      const problem = usernameProblem(name, MAX_USERNAME);
      if (problem) say(`Failed to set the username: ${problem}`);
      else {
        try {
          await store((r) => r.hSet(key(socket.id), "username", name));
          socket.data.username = name; // the name Redis last confirmed
          say(`Your username is set to ${name}`);
        } catch (err) {
          storeState(false, err);
          say(STORE_DOWN_NAME);
        }
      }
    }
    ack?.();
  }));

  socket.on("message", serial(async (...args) => {
    const ack = typeof args.at(-1) === "function" ? args.pop() : null;
    const text = textArg(args);
    if (text === null) say("Failed to send the message: it must be text.");
    else if (characters(text) > MAX_MESSAGE) {
      say(`Failed to send the message: it is ${characters(text)} characters long, the limit is ${MAX_MESSAGE}.`);
    } else {
      let name;
      try {
        // Read from Redis, as the tutorial's app does; if Redis lost the
        // hash, the name it last confirmed still counts.
        name = (await store((r) => r.hGet(key(socket.id), "username"))) || socket.data.username || "";
      } catch (err) {
        storeState(false, err);
        name = null;
      }
      if (name === null || !pub.isReady) say(STORE_DOWN_SEND);
      else if (name === "") say(NO_USERNAME);
      else io.emit("message", `${name}: ${text}`); // every client on every server
    }
    ack?.();
  }));

  // Any other event is ignored, as Flask-SocketIO and the lab's nodes do.

  // A named user who leaves is announced to everyone (once the hash is
  // gone, so whoever sees the line finds no session left behind).
  socket.on("disconnect", serial(async () => {
    let name = "";
    try {
      name = (await store((r) => r.hGet(key(socket.id), "username"))) || socket.data.username || "";
      await store((r) => r.del(key(socket.id)));
    } catch (err) {
      storeState(false, err);
    }
    if (name) io.emit("message", `${name} left the chatroom.`);
  }));
  socket.data.done = () => queue;
});

// ---------------------------------------------------------------- lifecycle

async function start() {
  try {
    await Promise.all([pub.connect(), sub.connect()]);
  } catch (err) {
    console.error(`socketio-chat ${cfg.name}: ${err.message}`);
    process.exit(1);
  }
  io.adapter(createAdapter(pub, sub));
  started = true;
  http.on("error", (err) => {
    console.error(`socketio-chat ${cfg.name}: listen on ${cfg.host}:${cfg.port}: ${err.message}`);
    process.exit(1);
  });
  http.listen(cfg.port, cfg.host, () => {
    const { address, port } = http.address();
    log(`listening on http://${address}:${port} (redis ${cfg.redisURL}, shutdown grace ${cfg.graceMs} ms, page ${cfg.pageDir})`);
  });
}

// shutdown is the rolling-deploy behaviour: health fails at once so the
// balancer deregisters this server, the server keeps serving (new sockets
// too) for the grace period, then closes every WebSocket with 1001 (Going
// Away) — not with a Socket.IO disconnect packet, after which
// socket.io-client would not reconnect — announces who left, and exits.
// A second signal ends the grace early — not the same one within a
// second: a SIGTERM to the process group (lab ctl node NAME stop) reaches
// this process and npm, and npm start passes its copy on.
const SAME_STOP_MS = 1000;
let stopping = null;
function shutdown(signal) {
  if (stopping) {
    if (signal === stopping.signal && Date.now() - stopping.at < SAME_STOP_MS) return;
    log(`${signal} again: closing now`);
    stopping.skip();
    return;
  }
  draining = true;
  let skip;
  const graceOver = new Promise((resolve) => {
    const t = setTimeout(resolve, cfg.graceMs);
    skip = () => {
      clearTimeout(t);
      resolve();
    };
  });
  stopping = { skip, signal, at: Date.now() };
  log(`${signal}: /healthz answers 503; closing every client with 1001 in ${cfg.graceMs} ms (SHUTDOWN_GRACE_MS)`);
  graceOver.then(closeAll).then(
    () => process.exit(0),
    (err) => {
      console.error(`socketio-chat ${cfg.name}: shutdown: ${err?.stack ?? err}`);
      process.exit(1);
    },
  );
}

async function closeAll() {
  http.close(); // no new connections; the open sockets stay until closed below
  http.closeIdleConnections?.();
  const sockets = [...io.of("/").sockets.values()];
  const gone = sockets.map((s) => new Promise((resolve) => (s.connected ? s.once("disconnect", resolve) : resolve())));
  for (const s of sockets) {
    const ws = s.conn.transport?.socket;
    if (ws?.close) ws.close(1001, "node stopping");
    else s.conn.close();
  }
  log(`closed ${sockets.length} client(s) with 1001`);
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS, "late")));
  if ((await Promise.race([Promise.all(gone), late])) === "late") {
    for (const s of io.of("/").sockets.values()) s.conn.transport?.socket?.terminate?.();
  }
  clearTimeout(timer);
  await Promise.all(sockets.map((s) => s.data.done?.())); // leave messages sent
  io.close();
  await Promise.allSettled([pub.close(), sub.close()]);
  log("stopped");
}

process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
start();
