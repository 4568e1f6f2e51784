// The socket.io-client options chat.mjs and unknown.mjs connect with.
//
// TRANSPORTS: "websocket", "polling", or "default" (the client's own choice:
// polling first, then the upgrade to WebSocket).
//
// COOKIES: how a client in Node keeps a balancer's sticky cookie (in a
// browser the browser keeps it):
//   "none"            the client's defaults: 4.8 and 4.0.1 keep no cookie in
//                     Node, so every request of a session is a new client
//                     to a cookie-sticky balancer;
//   "withCredentials" 4.8 keeps a cookie jar in Node only with this option
//                     (it sends the jar's cookies on every poll and on the
//                     WebSocket upgrade); 4.0.1 has no jar at all;
//   "fetched"         the application asks URL/healthz first and hands the
//                     cookies it got to the client in extraHeaders, which
//                     both versions send on every poll and on the upgrade.
export async function clientOptions(url, transports, cookies = "none") {
  const options = { reconnection: false, timeout: 5000 };
  if (transports !== "default") options.transports = [transports];
  switch (cookies) {
    case "none":
      break;
    case "withCredentials":
      options.withCredentials = true;
      break;
    case "fetched": {
      const res = await fetch(url + "/healthz");
      await res.arrayBuffer();
      const jar = res.headers.getSetCookie().map((c) => c.split(";")[0]);
      options.extraHeaders = { cookie: jar.join("; ") };
      break;
    }
    default:
      throw new Error("COOKIES: " + cookies + " is not none, withCredentials or fetched");
  }
  return options;
}
