// A small React app on Convex's own React bindings: a list shown through `useQuery`, added to
// through `useMutation`. Bundled with esbuild by react.test.mjs; the deployment's URL comes in
// the page's `#` (fragment).
import React, { useState } from "react";
import { createRoot } from "react-dom/client";
import { ConvexProvider, ConvexReactClient, useMutation, useQuery } from "convex/react";
import { anyApi } from "convex/server";

const api = anyApi;
const client = new ConvexReactClient(decodeURIComponent(location.hash.slice(1)), {
  skipConvexDeploymentUrlCheck: true,
});

function Notes() {
  const notes = useQuery(api.live.byChannel, { channel: "web" });
  const add = useMutation(api.live.add);
  const [text, setText] = useState("");
  if (notes === undefined) return <p data-testid="loading">Loading…</p>;
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        add({ channel: "web", text });
        setText("");
      }}
    >
      <ul data-testid="notes">
        {notes.map((n, i) => (
          <li key={i}>{n}</li>
        ))}
      </ul>
      <input data-testid="text" value={text} onChange={(e) => setText(e.target.value)} />
      <button type="submit">Add</button>
    </form>
  );
}

createRoot(document.getElementById("root")).render(
  <ConvexProvider client={client}>
    <Notes />
  </ConvexProvider>,
);
