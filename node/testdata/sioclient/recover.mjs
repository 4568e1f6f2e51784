// Connection state recovery with the real socket.io-client, through a
// balancer: node/recovery_sioclient_test.go drives it over stdin/stdout.
//
//   node recover.mjs URL COUNT
//
// A reader and a sender join; the script prints
//   {"ev":"ready","reader":NODE,"sender":NODE}
// and the test kills the reader's node. When the reader sees its connection
// end it prints {"ev":"away"}; the sender, on the surviving node, sends
// COUNT messages "m1".."mCOUNT", each with a message id, retried until
// acknowledged (retries, ackTimeout); then it prints {"ev":"sent"}. The
// test answers with a line on stdin once it did what it wanted while the
// reader was away (e.g. moved the nodes' clock past the window). The
// reader, reconnecting by itself, prints
//   {"ev":"done","recovered":BOOL,"node":NODE,"got":[...]}
// once it has COUNT of the sender's messages, or 3 s after reconnecting.
const [url, countText] = process.argv.slice(2);
const count = Number(countText);
const { io } = await import("socket.io-client");
const print = (o) => console.log(JSON.stringify(o));

function join(name, options) {
  const s = io(url, { transports: ["websocket"], ...options });
  const node = new Promise((resolve) => s.once("node", (n) => resolve(n)));
  const named = new Promise((resolve, reject) => {
    s.on("message", (m) => m === "Your username is set to " + name && resolve());
    s.once("connect", () => s.emit("set_username", name));
    s.once("connect_error", (e) => reject(new Error(name + " connect_error: " + e.message)));
  });
  return { s, node, named };
}

const stdin = (async function* () {
  let buf = "";
  for await (const chunk of process.stdin) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
})();

// The reader comes back after exactly 1.5 s: the test acts before that.
const reader = join("reader", { reconnectionDelay: 1500, randomizationFactor: 0 });
await reader.named;
const sender = join("sender", { retries: 5, ackTimeout: 1000 });
await sender.named;
print({ ev: "ready", reader: await reader.node, sender: await sender.node });

const got = [];
let finish;
const done = new Promise((resolve) => (finish = resolve));
reader.s.on("message", (m) => {
  if (m.startsWith("sender: ")) {
    got.push(m.slice("sender: ".length));
    if (reconnected && got.length >= count) finish();
  }
});
let reconnected = false;
let nodeAfter = null;
reader.s.once("disconnect", async () => {
  print({ ev: "away" });
  got.length = 0; // what counts is what arrives after the reconnection
  reader.s.once("node", (n) => (nodeAfter = n));
  reader.s.once("connect", () => {
    reconnected = true;
    if (got.length >= count) finish();
    setTimeout(finish, 3000);
  });
  const acks = [];
  for (let i = 1; i <= count; i++) {
    acks.push(sender.s.emitWithAck("message", "m" + i, "id-" + i));
  }
  await Promise.all(acks);
  print({ ev: "sent" });
});
await stdin.next(); // the test is done with the away time
await done;
print({ ev: "done", recovered: reader.s.recovered, node: nodeAfter, got });
reader.s.disconnect();
sender.s.disconnect();
process.exit(0);
