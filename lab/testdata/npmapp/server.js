// A tiny HTTP server on $PORT that says which node it is: enough for the
// lab to wait for /healthz and to kill, stop and restart it.
const http = require("http");

const name = process.env.LAB_NODE_NAME || "node";
const server = http.createServer((req, res) => {
  res.setHeader("X-Lab-Node", name);
  res.end(req.url === "/healthz" ? "ok\n" : `hello from ${name}\n`);
});
server.listen(Number(process.env.PORT), "127.0.0.1", () => {
  console.log(`pid=${process.pid} ${name} listening on ${process.env.PORT}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
