// The browser side of a dropped link (mobile/views/app.py). While the socket to the Flet server
// is down nothing can be drawn from the server, and the Flet web client replaces the whole
// screen with an English "Working...". Instead, the last screen stays in sight as a picture,
// under a Japanese/English banner, and taps are held off (read-only) until the link is back.
//
// Then the page reloads rather than letting the Flet client reconnect its socket: with flet 1.0.5
// a client that re-attaches in place shows nothing the server draws afterwards (the screen stays
// frozen and taps go nowhere), whereas a fresh page re-attaches to the same server session (its id
// is kept in sessionStorage) and receives the whole current screen. The client's own reconnection
// attempts are sent nowhere meanwhile, so the session is free for the reloaded page.
(function () {
  "use strict";
  var NativeWebSocket = window.WebSocket;
  var MESSAGE = "切断中 — 再接続しています / Disconnected — reconnecting";
  var cover = null;
  var linkDown = false;
  // Fetch the banner's font now: once the link is down it can no longer be fetched.
  if (document.fonts) document.fonts.load("bold 18px MusubiBanner", "切断中").catch(function () {});

  function reloadWhenServerAnswers() {
    fetch(window.location.href, { cache: "no-store" }).then(
      function () { window.location.reload(); },
      function () { setTimeout(reloadWhenServerAnswers, 500); }
    );
  }

  function lastScreen() {
    // Flutter draws into one or more canvases, some inside shadow roots; paint them onto one picture.
    var width = window.innerWidth, height = window.innerHeight;
    var picture = document.createElement("canvas");
    picture.width = width * window.devicePixelRatio;
    picture.height = height * window.devicePixelRatio;
    var context = picture.getContext("2d");
    context.scale(window.devicePixelRatio, window.devicePixelRatio);
    (function paint(root) {
      root.querySelectorAll("*").forEach(function (element) {
        if (element.shadowRoot) paint(element.shadowRoot);
        if (element.tagName === "CANVAS" && element !== picture) {
          var box = element.getBoundingClientRect();
          try { context.drawImage(element, box.left, box.top, box.width, box.height); } catch (e) { /* tainted or empty */ }
        }
      });
    })(document);
    return picture;
  }

  function showCover() {
    if (cover) return;
    cover = document.createElement("div");
    cover.id = "musubi-link-down";
    cover.style.cssText = "position:fixed;inset:0;z-index:2147483647;background:#f8f9ff;cursor:not-allowed;";
    var picture = lastScreen();
    picture.style.cssText = "position:absolute;inset:0;width:100%;height:100%;opacity:0.85;";
    picture.setAttribute("aria-hidden", "true");
    var banner = document.createElement("div");
    banner.setAttribute("role", "alert");
    banner.textContent = MESSAGE;
    // White on #B71C1C is 6.6:1 (WCAG AA); the bar is tall enough to read from arm's length.
    banner.style.cssText = "position:absolute;left:0;right:0;top:0;padding:14px 16px;background:#b71c1c;" +
      "color:#fff;font:bold 18px MusubiBanner,sans-serif;text-align:center;box-shadow:0 2px 6px rgba(0,0,0,.3);";
    cover.appendChild(picture);
    cover.appendChild(banner);
    ["click", "pointerdown", "pointerup", "keydown", "touchstart", "wheel"].forEach(function (kind) {
      cover.addEventListener(kind, function (event) { event.stopPropagation(); event.preventDefault(); }, true);
    });
    document.body.appendChild(cover);
  }

  function WatchedWebSocket(url, protocols) {
    var flet = /\/ws$/.test(String(url));
    if (flet && linkDown) url = "ws://127.0.0.1:9/held-off-until-reload";  // fails at once, harmlessly
    var socket = protocols === undefined ? new NativeWebSocket(url) : new NativeWebSocket(url, protocols);
    if (flet && !linkDown) {
      socket.addEventListener("close", function () {
        if (linkDown) return;
        linkDown = true;
        showCover();
        reloadWhenServerAnswers();
      });
    }
    return socket;
  }
  WatchedWebSocket.prototype = NativeWebSocket.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (name) { WatchedWebSocket[name] = NativeWebSocket[name]; });
  window.WebSocket = WatchedWebSocket;
})();
