// The chat page's client: a small Socket.IO v4 client over the WebSocket
// transport (Engine.IO 4), written for this page so that it needs no CDN.
// It behaves like the tutorial's page: set a username, then send messages;
// every "message" event is shown as text (never as HTML).
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var messages = $("messages"), status = $("status");
  var ws = null, usernameSet = false, node = "", sessions = 0, retry = 0;

  function show(text, note) {
    var div = document.createElement("div");
    div.textContent = text;
    if (note) div.className = "note";
    messages.appendChild(div);
    messages.scrollTop = messages.scrollHeight;
  }

  function setStatus(text, up) {
    status.textContent = text;
    status.className = up ? "up" : "down";
  }

  function emit(event, data) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send("42" + JSON.stringify([event, data]));
  }

  var handlers = {
    message: function (text) { show(String(text)); },
    node: function (name) { node = String(name); }
  };

  function onSocketIO(p) {
    if (p[0] === "0") {
      sessions++;
      retry = 0;
      setStatus("Connected" + (node ? " to " + node : ""), true);
      if (sessions > 1) show("Reconnected: this is a new session, so set your username again.", true);
    } else if (p[0] === "2") {
      var ev = JSON.parse(p.slice(p.indexOf("[")));
      if (handlers[ev[0]]) handlers[ev[0]](ev[1]);
      if (ev[0] === "node") setStatus("Connected to " + node, true);
    } else if (p[0] === "4") {
      show("Connection refused by the server: " + p.slice(1), true);
    }
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(proto + "//" + location.host + "/socket.io/?EIO=4&transport=websocket");
    ws.onmessage = function (ev) {
      var p = String(ev.data);
      if (p[0] === "0") ws.send("40");        // Engine.IO open: join the default namespace
      else if (p[0] === "2") ws.send("3");    // ping: answer pong
      else if (p[0] === "4") onSocketIO(p.slice(1));
    };
    ws.onclose = function (ev) {
      var wait = Math.min(1000 * Math.pow(2, retry++), 10000);
      setStatus("Disconnected" + (node ? " from " + node : "") + " (code " + ev.code +
        (ev.reason ? ", " + ev.reason : "") + "). Reconnecting in " + wait / 1000 + " s…", false);
      setTimeout(connect, wait);
    };
  }

  function setUsername() {
    var name = $("username").value;
    if (!name) { show("The username cannot be empty.", true); return; }
    emit("set_username", name);
    usernameSet = true;
  }

  function sendMessage() {
    if (!usernameSet) { show("Specify a username first.", true); return; }
    var text = $("myMessage").value;
    if (!text) { show("The message cannot be empty.", true); return; }
    emit("message", text);
    $("myMessage").value = "";
  }

  $("setUsername").addEventListener("click", setUsername);
  $("send").addEventListener("click", sendMessage);
  $("username").addEventListener("keydown", function (e) { if (e.key === "Enter") setUsername(); });
  $("myMessage").addEventListener("keydown", function (e) { if (e.key === "Enter") sendMessage(); });
  connect();
})();
