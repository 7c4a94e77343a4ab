// Flet's web client (1.0.5) loads the Rive animation runtime from a CDN on every page load, whether
// or not the app shows a Rive animation (Musubi shows none), and no Flet option turns that off.
// Nothing may leave this server (hospital, ambulance and closed municipal networks), so the script
// the client asks the CDN for is swapped, as its address is set, for rive-native-off.js served
// here, which declines: the client goes on without Rive, as it would with the CDN unreachable,
// only at once and without a request leaving the machine.
(() => {
  const CDN = "https://cdn.jsdelivr.net/npm/@rive-app/";
  const src = Object.getOwnPropertyDescriptor(HTMLScriptElement.prototype, "src");
  Object.defineProperty(HTMLScriptElement.prototype, "src", {
    configurable: true,
    enumerable: src.enumerable,
    get() {
      return src.get.call(this);
    },
    set(url) {
      src.set.call(this, String(url).startsWith(CDN) ? "rive-native-off.js" : url);
    },
  });
})();
