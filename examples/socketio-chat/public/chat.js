// The tutorial's page script on the real socket.io client (served by the
// server at /socket.io/socket.io.js). Messages are shown as text.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var usernameSet = false;
  function show(text, note) {
    var div = document.createElement("div");
    div.textContent = text;
    if (note) div.className = "note";
    $("messages").appendChild(div);
    $("messages").scrollTop = $("messages").scrollHeight;
  }
  var socket = io({ transports: ["websocket"] });
  socket.on("node", function (name) { $("status").textContent = "Connected to " + name; });
  socket.on("message", function (text) { show(String(text)); });
  socket.on("disconnect", function (reason) {
    $("status").textContent = "Disconnected (" + reason + "), reconnecting…";
    if (usernameSet) show("Disconnected: after reconnecting, set your username again.", true);
    usernameSet = false;
  });
  $("setUsername").addEventListener("click", function () {
    var name = $("username").value;
    if (!name) { show("The username cannot be empty.", true); return; }
    socket.emit("set_username", name);
    usernameSet = true;
  });
  $("send").addEventListener("click", function () {
    if (!usernameSet) { show("Specify a username first.", true); return; }
    var text = $("myMessage").value;
    if (!text) { show("The message cannot be empty.", true); return; }
    socket.send(text);
    $("myMessage").value = "";
  });
})();
