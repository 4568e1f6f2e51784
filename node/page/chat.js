// The chat page's client: a small Socket.IO v4 client (Engine.IO 4) over
// the WebSocket transport or HTTP long-polling, written for this page so
// that it needs no CDN. The transport switch (or ?transport=polling) picks
// one. It behaves like the tutorial's page: set a username, then send
// messages; every "message" event is shown as text (never as HTML). With a
// node that has connection state recovery on, it keeps the private id the
// node gave it and the offset of the last event, presents both when it
// reconnects, and says whether the session was recovered or is new.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var messages = $("messages"), status = $("status"), transport = $("transport");
  var conn = null, usernameSet = false, node = "", sessions = 0, retry = 0, timer = null;
  var pid = "", offset = "", recovered = false; // connection state recovery

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
    if (conn) conn.send("42" + JSON.stringify([event, data]));
  }

  var handlers = {
    message: function (text) { show(String(text)); },
    node: function (name) { node = String(name); }
  };

  function onSocketIO(p) {
    if (p[0] === "0") {
      sessions++;
      retry = 0;
      var answer = p.length > 1 ? JSON.parse(p.slice(1)) : {};
      recovered = !!answer.pid && answer.pid === pid;
      pid = answer.pid || "";
      setStatus(connectedText(), true);
      if (sessions > 1 && recovered) show("Reconnected: session recovered — your username and every message you missed are back.", true);
      else if (sessions > 1) {
        usernameSet = false;
        show("Reconnected: this is a new session" + (pid ? " (the old one could not be recovered)" : "") + ", so set your username again.", true);
      }
    } else if (p[0] === "2") {
      var ev = JSON.parse(p.slice(p.indexOf("[")));
      // With recovery on, the last argument of every event is its offset.
      if (pid && ev.length > 2 && typeof ev[ev.length - 1] === "string") offset = ev[ev.length - 1];
      if (handlers[ev[0]]) handlers[ev[0]](ev[1]);
      if (ev[0] === "node") setStatus(connectedText(), true);
    } else if (p[0] === "4") {
      show("Connection refused by the server: " + p.slice(1), true);
    }
  }

  function connectedText() {
    return "Connected" + (node ? " to " + node : "") + (pid ? (recovered ? " (session recovered)" : " (new session)") : "");
  }

  // onPacket handles one Engine.IO packet, whatever carried it.
  function onPacket(c, p) {
    // Engine.IO open: join the default namespace, resuming if we can.
    if (p[0] === "0") c.send("40" + (pid && offset ? JSON.stringify({ pid: pid, offset: offset }) : ""));
    else if (p[0] === "2") c.send("3");     // ping: answer pong
    else if (p[0] === "4") onSocketIO(p.slice(1));
  }

  function onClosed(c, why) {
    if (conn !== c) return; // a transport the switch replaced
    conn = null;
    var wait = Math.min(1000 * Math.pow(2, retry++), 10000);
    setStatus("Disconnected" + (node ? " from " + node : "") + " (" + why + "). Reconnecting in " +
      wait / 1000 + " s…", false);
    timer = setTimeout(connect, wait);
  }

  function openWebSocket() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(proto + "//" + location.host + "/socket.io/?EIO=4&transport=websocket");
    var c = {
      send: function (p) { if (ws.readyState === WebSocket.OPEN) ws.send(p); },
      close: function () { ws.close(1000); }
    };
    ws.onmessage = function (ev) { onPacket(c, String(ev.data)); };
    ws.onclose = function (ev) { onClosed(c, "code " + ev.code + (ev.reason ? ", " + ev.reason : "")); };
    return c;
  }

  // openPolling is Engine.IO's long-polling: one GET waits for the server's
  // packets (joined by \x1e), POSTs carry ours, one at a time.
  function openPolling() {
    var base = "/socket.io/?EIO=4&transport=polling", sid = "", done = false, posts = Promise.resolve();
    var c = {
      send: function (p) {
        if (done || !sid) return;
        posts = posts.then(function () {
          return fetch(base + "&sid=" + sid, { method: "POST", body: p, headers: { "Content-Type": "text/plain;charset=UTF-8" } });
        }).then(function (r) { if (!r.ok) end("POST answered " + r.status); }, function () { end("POST failed"); });
      },
      close: function () { c.send("1"); done = true; }
    };
    function end(why) {
      if (done) return;
      done = true;
      onClosed(c, why);
    }
    function poll() {
      if (done) return;
      fetch(base + (sid ? "&sid=" + sid : ""), { cache: "no-store" }).then(function (r) {
        return r.text().then(function (body) {
          if (!r.ok) { end("poll answered " + r.status + " " + body); return; }
          var packets = body.split("\x1e");
          for (var i = 0; i < packets.length && !done; i++) {
            if (packets[i][0] === "0") sid = JSON.parse(packets[i].slice(1)).sid;
            if (packets[i] === "1") { end("closed by the server"); return; }
            onPacket(c, packets[i]);
          }
          poll();
        });
      }, function () { end("poll failed"); });
    }
    poll();
    return c;
  }

  function connect() {
    clearTimeout(timer);
    conn = transport.value === "polling" ? openPolling() : openWebSocket();
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

  if (new URLSearchParams(location.search).get("transport") === "polling") transport.value = "polling";
  transport.addEventListener("change", function () {
    var old = conn;
    conn = null;
    if (old) old.close();
    usernameSet = false;
    sessions = 0;
    pid = offset = "";
    show("Switched to " + transport.options[transport.selectedIndex].text + ": a new session, so set your username again.", true);
    connect();
  });
  $("setUsername").addEventListener("click", setUsername);
  $("send").addEventListener("click", sendMessage);
  $("username").addEventListener("keydown", function (e) { if (e.key === "Enter") setUsername(); });
  $("myMessage").addEventListener("keydown", function (e) { if (e.key === "Enter") sendMessage(); });
  connect();
})();
