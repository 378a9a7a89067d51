// The runtime ceiling for `make bench`: a JavaScript Worker that does nothing
// but answer every request with a small static JSON document.
const body = JSON.stringify({ issuer: "http://127.0.0.1", status: "ok" });

export default {
  fetch() {
    return new Response(body, { headers: { "content-type": "application/json" } });
  },
};
