// The GraphQL IDE page: GraphiQL bundled by esbuild (src/api/ide/build.ts), served by src/api/static.ts.
// Kept out of the server type-check (tsconfig excludes src/api/ide/*.tsx): React's types are not installed
// and the server has no DOM lib. The page holds no logic beyond wiring GraphiQL to the server's config.
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { z } from 'zod';
import 'graphiql/style.css';

// zod otherwise probes for eval (`new Function`), which the page's CSP refuses and reports as an error.
z.config({ jitless: true });

// The server writes this config into the page (script#ide-config); parsed here like any other input.
const IdeConfig = z.object({
  endpoint: z.string().min(1),
  query: z.string(),
  headers: z.string(),
  workers: z.object({ editor: z.string().min(1), json: z.string().min(1), graphql: z.string().min(1) }),
});

const raw = document.getElementById('ide-config')?.textContent ?? '';
const config = IdeConfig.parse(JSON.parse(raw));

// GraphiQL's setup-workers/* suit Vite, webpack or a CDN only; the server names the built worker files.
globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    if (label === 'graphql') return new Worker(config.workers.graphql);
    if (label === 'json') return new Worker(config.workers.json);
    return new Worker(config.workers.editor);
  },
};

const fetcher = createGraphiQLFetcher({ url: new URL(config.endpoint, location.href).href });
const root = document.getElementById('graphiql');
if (!root) throw new Error('ide: #graphiql is missing');

createRoot(root).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      defaultQuery={config.query}
      defaultHeaders={config.headers}
      defaultEditorToolsVisibility="headers"
    />
  </StrictMode>,
);
