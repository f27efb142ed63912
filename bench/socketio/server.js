// The socket.io peer of the benchmark suite, the equivalent of bench_server's `bench:*` channel:
//   "join"      (room, ack)    -> joins the room, acks "ok"
//   "broadcast" (payload)      -> emits "msg" with the payload to every member of the sender's room (itself too)
//   "ping"      (payload, ack) -> acks with the payload
// WebSocket transport only, no compression, default buffers. `node server.js [PORT]` (default 4102).
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 4102);
const httpServer = http.createServer();
const io = new Server(httpServer, {
  transports: ["websocket"],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
});

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    socket.data.room = room;
    if (typeof ack === "function") ack("ok");
  });
  socket.on("broadcast", (payload) => {
    io.to(socket.data.room).emit("msg", payload);
  });
  socket.on("ping", (payload, ack) => {
    if (typeof ack === "function") ack(payload);
  });
});

httpServer.listen(port, "127.0.0.1", 1024);
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
