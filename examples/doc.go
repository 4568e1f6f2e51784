// Package examples holds apps written for the lab, not by it: servers a user
// would bring, run as the lab's command nodes and checked in CI.
//
//   - socketio-chat: the tutorial's chat on the npm socket.io server with
//     @socket.io/redis-adapter, speaking the same events and texts as the
//     lab's chat nodes, so the lab's clients and scenarios work against it.
//   - plain-ws: a plain WebSocket app (npm ws): echo, a JSON broadcast room,
//     subprotocols, a server heartbeat, for protocol: ws scenarios.
//   - go-handler: a Go module of its own (go.mod with a replace to this
//     repository, as a user's module would require a release) whose
//     WebSocket handler runs inside the lab as a handler node, on the mock
//     clock; its test is run by .ci/run, since go test ./... at the root
//     does not enter a nested module.
//   - socketio-orders: a Socket.IO app whose events are its own (an order
//     desk in the /orders namespace, with acks), for protocol: socketio
//     scenarios.
//
// plain-ws and socketio-orders carry a scenario each (scenarios/*.yaml),
// which the tests here run against them as command nodes.
//
// All read PORT and LAB_NODE_NAME (and REDIS_URL for the chat) from the
// environment, answer GET /healthz, and on SIGTERM fail their health check,
// keep serving for SHUTDOWN_GRACE_MS, then close every client (with 1001,
// but for socketio-orders, which disconnects them as socket.io does).
//
// The tests here start the apps as processes (each in its own process
// group) and drive them with the lab's Go client and the real
// socket.io-client. They run when LAB_TEST_NODE names a node binary, after
// npm ci in each example (.ci/run does both).
package examples
