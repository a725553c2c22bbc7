// An in-memory KV namespace for the benchmark's workerd: the HTTP protocol that
// workerd speaks to a `kvNamespace` service (GET/PUT/DELETE of a URL-encoded key).
const store = new Map();

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const key = decodeURIComponent(url.pathname.slice(1));
    switch (request.method) {
      case "GET": {
        const entry = store.get(key);
        if (!entry || (entry.expires && entry.expires < Date.now())) return new Response(null, { status: 404 });
        return new Response(entry.value);
      }
      case "PUT": {
        const ttl = Number(url.searchParams.get("expiration_ttl") ?? 0);
        store.set(key, { value: await request.text(), expires: ttl ? Date.now() + ttl * 1000 : 0 });
        return new Response(null);
      }
      case "DELETE":
        store.delete(key);
        return new Response(null);
      default:
        return new Response(null, { status: 405 });
    }
  },
};
