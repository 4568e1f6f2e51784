// Connects once with the real socket.io-client and prints how it failed,
// as one JSON line: node/sioclient_test.go sends it through a balancer
// without stickiness, so its polls land on a node that does not own the
// session.
//
//   node unknown.mjs URL TRANSPORTS PACKAGE [COOKIES]
//
// COOKIES as for chat.mjs (options.mjs).
const [url, transports, pkg, cookies = "none"] = process.argv.slice(2);
const { io } = await import(pkg);
const { clientOptions } = await import("./options.mjs");
const s = io(url, await clientOptions(url, transports, cookies));
const failed = await new Promise((resolve) => {
  s.on("connect", () => resolve(null));
  s.on("connect_error", (e) => resolve(e));
  // A session that opened and then broke shows up as a disconnect.
  s.on("disconnect", (reason, d) => resolve({ message: reason, description: d?.description, context: d?.context }));
});
const ctx = failed?.context;
console.log(JSON.stringify({
  connected: failed === null,
  message: failed?.message,
  status: typeof failed?.description === "number" ? failed.description : ctx?.status,
  body: ctx?.responseText ?? null,
}));
s.close();
process.exit(0); // a poll still pending on the other node would hold the process open
