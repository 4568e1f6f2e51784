// The app of a page served from another origin: it loads socket.io-client's
// browser bundle (before this script) and chats with the URL in its query,
// withCredentials, so that the browser keeps and sends a sticky cookie.
// node/sioclient_browser_test.go and cmd/lab's browser tests serve it.
//
//   ?node=URL&transports=polling|websocket|default&name=NAME&pkg=PACKAGE
const q = new URLSearchParams(location.search);
const options = { withCredentials: true, reconnection: false };
if (q.get("transports") !== "default") options.transports = [q.get("transports")];
const s = io(q.get("node"), options);
const log = (t) => {
  const d = document.createElement("div");
  d.textContent = t;
  document.getElementById("log").appendChild(d);
};
s.on("connect", () => { log("connected"); s.emit("set_username", q.get("name")); });
s.on("message", log);
s.on("node", (n) => log("node: " + n));
s.on("connect_error", (e) => log("connect_error: " + e.message));
window.say = (t) => s.send(t);
window.transport = () => s.io.engine && s.io.engine.transport ? s.io.engine.transport.name : "";
