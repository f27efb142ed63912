<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{{package_name}}</title>
  <style>
    body { font-family: sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
    header { display: flex; align-items: baseline; justify-content: space-between; }
    #status { font-size: .9rem; color: #666; }
    #status[data-state="joined"] { color: #1a7f37; }
    #status[data-state="offline"] { color: #cf222e; }
    #messages { border: 1px solid #ccc; height: 20rem; overflow-y: auto; padding: .5rem; }
    #messages p { margin: .2rem 0; }
    #chat-input { width: 100%; box-sizing: border-box; padding: .5rem; margin-top: .5rem; }
  </style>
</head>
<body>
  <header>
    <h1>rooms:lobby</h1>
    <span id="status" data-state="connecting">connecting…</span>
  </header>
  <div id="messages"></div>
  <input id="chat-input" type="text" placeholder="Say something and press Enter" autofocus>
  <script type="module">
    // The client the app serves at /js/channels.js, with the API of the official `phoenix` npm client: with a
    // bundler, `import { Socket } from "phoenix"` works the same.
    import { Socket } from "/js/channels.js"

    const socket = new Socket("/socket", { params: {} })
    socket.connect()

    const channel = socket.channel("rooms:lobby", {})
    const input = document.querySelector("#chat-input")
    const messages = document.querySelector("#messages")
    const status = document.querySelector("#status")

    const showStatus = (state, text) => {
      status.dataset.state = state
      status.textContent = text
    }

    input.addEventListener("keypress", event => {
      if (event.key === "Enter" && input.value !== "") {
        channel.push("new_msg", { body: input.value })
        input.value = ""
      }
    })

    channel.on("new_msg", payload => {
      const item = document.createElement("p")
      item.textContent = `[${new Date().toLocaleTimeString()}] ${payload.body}`
      messages.appendChild(item)
      messages.scrollTop = messages.scrollHeight
    })

    // The client reconnects by itself when the connection drops (a server restart, a network change) and rejoins
    // the channel; the status shows where it stands.
    socket.onError(() => showStatus("offline", "offline, reconnecting…"))
    channel.onError(() => showStatus("offline", "offline, reconnecting…"))

    channel.join()
      .receive("ok", resp => {
        showStatus("joined", "connected")
        console.log("Joined successfully", resp)
      })
      .receive("error", resp => {
        showStatus("offline", "unable to join")
        console.log("Unable to join", resp)
      })
  </script>
</body>
</html>
