// Stands in for the Rive runtime (see rive-off.js): the client's loader calls RiveNative() and,
// told no, carries on without Rive.
window.RiveNative = () => Promise.reject(new Error("Rive is not part of Musubi's web build"));
