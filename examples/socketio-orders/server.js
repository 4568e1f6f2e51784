// A Socket.IO app whose events are its own, not the lab's chat: an order
// desk in the /orders namespace, on the npm socket.io server. The lab's
// `protocol: socketio` scenarios drive it as command nodes (emit with acks,
// expect_emit); it keeps its orders in memory, per server.
//
// Namespace /orders:
//   on connect  server → "hello" {node, id, desk}    (desk: the handshake's
//                                                     ?desk= query, or "main")
//               server → "message" "connected to NODE" (socket.send)
//   "place" {item, qty} + ack → ack {ok: true, id, node}, and everyone in
//               the namespace on this server gets "placed" {id, item, qty, desk};
//               a bad order → ack {ok: false, error}
//               without an ack → "rejected" {error: "place needs an ack"}
//   "orders" + ack → ack {node, count, items: [item, ...]}
// The main namespace (/) is refused with a CONNECT_ERROR naming /orders.
//
// Environment (the lab sets the first two for a command node):
//   PORT               port to listen on (required; 0 picks a free one)
//   LAB_NODE_NAME      this server's name (X-Lab-Node header, events)
//   HOST               listen address, default 127.0.0.1
//   SHUTDOWN_GRACE_MS  after SIGTERM, how long to keep serving (health
//                      answers 503) before disconnecting every client
import { createServer } from "node:http";
import { Server } from "socket.io";

const env = process.env;
const problems = [];
const port = Number(env.PORT);
if (env.PORT === undefined || !/^\d+$/.test(env.PORT.trim()) || port > 65535) problems.push(`PORT=${JSON.stringify(env.PORT ?? "")}: want a port 0-65535`);
const grace = Number(env.SHUTDOWN_GRACE_MS ?? "0");
if (!/^\d+$/.test(String(env.SHUTDOWN_GRACE_MS ?? "0")) || grace > 3_600_000) problems.push(`SHUTDOWN_GRACE_MS=${JSON.stringify(env.SHUTDOWN_GRACE_MS)}: want 0-3600000`);
if (problems.length) {
  for (const p of problems) console.error(`socketio-orders: ${p}`);
  process.exit(2);
}
const name = env.LAB_NODE_NAME || "socketio-orders";
const host = env.HOST || "127.0.0.1";
const log = (...args) => console.log(`socketio-orders ${name}:`, ...args);

let draining = false;
const http = createServer((req, res) => {
  res.setHeader("X-Lab-Node", name);
  const path = new URL(req.url, "http://x").pathname;
  if (path === "/healthz") {
    res.writeHead(draining ? 503 : 200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ status: draining ? "draining" : "ok", node: name, mode: "socketio-orders" }) + "\n");
    return;
  }
  res.writeHead(path === "/" ? 200 : 404, { "Content-Type": "text/plain; charset=utf-8" });
  res.end(`socketio-orders ${name}: Socket.IO namespace /orders (place, orders); /healthz\n`);
});

const io = new Server(http, { cors: { origin: false } });
io.engine.on("initial_headers", (headers) => (headers["X-Lab-Node"] = name));
io.engine.on("headers", (headers) => (headers["X-Lab-Node"] = name));

io.of("/").use((socket, next) => next(new Error("this app serves the /orders namespace")));

const orders = []; // this server's, in order
const orderProblem = (o) => {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return "an order is an object like {item: \"tea\", qty: 1}";
  if (typeof o.item !== "string" || o.item.trim() === "" || o.item.length > 100) return "item must be text of 1-100 characters";
  if (!Number.isInteger(o.qty) || o.qty < 1 || o.qty > 100) return "qty must be a whole number 1-100";
  return "";
};

const desk = io.of("/orders");
desk.on("connection", (socket) => {
  const deskName = String(socket.handshake.query.desk ?? "main");
  socket.emit("hello", { node: name, id: socket.id, desk: deskName });
  socket.send(`connected to ${name}`);
  socket.on("place", (order, ack) => {
    if (typeof ack !== "function") {
      socket.emit("rejected", { error: "place needs an ack" });
      return;
    }
    const problem = orderProblem(order);
    if (problem) {
      ack({ ok: false, error: problem });
      return;
    }
    const id = orders.length + 1;
    orders.push({ id, item: order.item, qty: order.qty });
    ack({ ok: true, id, node: name });
    desk.emit("placed", { id, item: order.item, qty: order.qty, desk: deskName });
  });
  socket.on("orders", (ack) => {
    if (typeof ack === "function") ack({ node: name, count: orders.length, items: orders.map((o) => o.item) });
  });
});

http.listen(port, host, () => {
  const a = http.address();
  log(`listening on http://${a.address}:${a.port}`);
});

process.on("SIGTERM", () => {
  draining = true;
  log(`SIGTERM: draining for ${grace} ms`);
  setTimeout(() => {
    io.close(); // every client is disconnected, the server closes
    setTimeout(() => process.exit(0), 1000).unref();
  }, grace);
});
