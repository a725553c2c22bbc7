// The runtime's limit: a minimal JavaScript worker that forwards the request to the
// upstream and returns its response as it is.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.UPSTREAM + url.pathname, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
  },
};
