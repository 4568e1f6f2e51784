// Plays the tutorial's chat with the real socket.io-client: user A on the
// first URL, user B on the second. Prints one JSON line per event received;
// node/sioclient_test.go compares them with the chat table of SPEC §1.
//
//   node chat.mjs URL_A URL_B [TRANSPORTS [PACKAGE [COOKIES]]]
//
// TRANSPORTS: "websocket" (default), "polling", or "default" (the client's
// own choice: polling first, then the upgrade to WebSocket). PACKAGE: the
// client to load, "socket.io-client" (4.8) or "socket.io-client-401".
// COOKIES: "none" (default), "withCredentials" or "fetched": how the
// client keeps a balancer's sticky cookie in Node (options.mjs).
const [urlA, urlB, transports = "websocket", pkg = "socket.io-client", cookies = "none"] = process.argv.slice(2);
const { io } = await import(pkg);
const { clientOptions } = await import("./options.mjs");
const print = (who, ev, data) => console.log(JSON.stringify({ who, ev, data }));

async function user(url, who) {
  const s = io(url, await clientOptions(url, transports, cookies));
  const inbox = [];
  let wake = null;
  s.on("message", (m) => {
    print(who, "message", m);
    inbox.push(m);
    const w = wake;
    wake = null;
    if (w) w();
  });
  s.on("node", (n) => print(who, "node", n));
  const next = () =>
    new Promise((resolve) => {
      const take = () => (inbox.length ? resolve(inbox.shift()) : (wake = take));
      take();
    });
  const connected = new Promise((resolve, reject) => {
    s.on("connect", () => resolve());
    s.on("connect_error", (e) => reject(new Error(who + " connect_error: " + e.message)));
  });
  return { s, next, connected };
}

// pings resolves after the server has pinged n times (and the client
// answered each): the heartbeat works with the real client. Both versions
// emit "pong" when they answer a ping (4.0 emits no "ping" event).
const pings = (u, n) =>
  new Promise((resolve) => {
    let seen = 0;
    u.s.io.engine.on("pong", () => ++seen === n && resolve());
  });

const a = await user(urlA, "A");
await a.connected;
await a.next();
const b = await user(urlB, "B");
await b.connected;
await b.next();

a.s.emit("message", "too early");
await a.next();
// An acknowledged emit, written so that 4.0 (no emitWithAck) runs it too.
const ack = await new Promise((resolve) => a.s.emit("set_username", "A", (...args) => resolve(args[0] ?? null)));
print("A", "ack", ack);
await a.next();
b.s.emit("set_username", "B");
await b.next();

a.s.send("hi"); // socket.send emits "message", as the tutorial's page does
await a.next();
await b.next();

await pings(a, 2);
print("A", "pinged", 2);
// The transport A ended up on: "websocket" after an upgrade.
print("A", "transport", a.s.io.engine.transport.name);

a.s.disconnect();
await b.next();
b.s.disconnect();
print("-", "done", true);
