// The ops page's script (browser): read a token, fetch GET /ops/data with it, render the answer.
// Bundled by src/api/ops/build.ts into src/api/ops/client.generated.ts, which the server serves as
// /ops/ops.js. The server's type-check has no DOM lib, so the few browser objects used are declared
// here, narrowly; esbuild drops the declarations.
import * as z from 'zod/mini';
import { type OpsData, opsDataSchema, opsPageConfigSchema } from './schema.js';
import { renderOpsView } from './view.js';

interface PageEvent {
  preventDefault(): void;
}
interface PageElement {
  textContent: string | null;
  innerHTML: string;
  hidden: boolean;
  className: string;
  addEventListener(type: 'click' | 'submit', listener: (event: PageEvent) => void): void;
}
interface PageInput extends PageElement {
  value: string;
  focus(): void;
}
declare const document: { getElementById(id: string): PageElement | null };
declare const sessionStorage: {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
};

// zod otherwise probes for eval (`new Function`), which the page's CSP refuses and reports as an error.
z.config({ jitless: true });

/** Where a pasted token is kept: this tab only, gone when it closes. */
const TOKEN_KEY = 'goldgate.ops.token';
/** The page refreshes itself this often while open. */
const REFRESH_MS = 60_000;

function element(id: string): PageElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`ops page: #${id} is missing`);
  return found;
}

const config = opsPageConfigSchema.parse(JSON.parse(element('ops-config').textContent ?? ''));
const view = element('ops-view');
const status = element('ops-status');
const form = element('ops-token-form');
const input = element('ops-token') as PageInput;

let token = sessionStorage.getItem(TOKEN_KEY) ?? config.token ?? '';
let loading = false;

function say(message: string, isError = false): void {
  status.textContent = message;
  status.className = isError ? 'error' : '';
}

/** Ask for a token: the dashboard of an earlier token never stays on screen beside a refusal. */
function askForToken(message: string, isError: boolean): void {
  view.innerHTML = '';
  say(message, isError);
  form.hidden = false;
  input.focus();
}

/** The error code of a JSON answer, if it has one. */
async function codeOf(response: Response): Promise<string> {
  const body = z
    .object({
      error: z.optional(z.object({ code: z.string() })),
      errors: z.optional(z.array(z.object({ extensions: z.optional(z.object({ code: z.string() })) }))),
    })
    .safeParse(await response.json().catch(() => undefined));
  if (!body.success) return 'no code';
  return body.data.error?.code ?? body.data.errors?.[0]?.extensions?.code ?? 'no code';
}

async function load(): Promise<void> {
  if (loading) return;
  if (!token) {
    askForToken('Paste a token with the admin or ops role to see the operations data.', false);
    return;
  }
  loading = true;
  try {
    say('Loading…');
    // The answer says `cache-control: no-store`: every load asks the server.
    const response = await fetch(`${config.dataPath}?runs=${config.runs}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      askForToken('The token was refused: it is invalid or has expired. Paste another.', true);
      return;
    }
    if (response.status === 403) {
      askForToken('This token has neither the admin nor the ops role: operations data is not shown.', true);
      return;
    }
    if (!response.ok) {
      say(`The server answered ${response.status} (${await codeOf(response)}); try Refresh.`, true);
      return;
    }
    const data: OpsData = opsDataSchema.parse(await response.json());
    view.innerHTML = renderOpsView(data);
    form.hidden = true;
    say('');
  } catch (error) {
    say(
      `Could not load the operations data (${error instanceof Error ? error.message : 'unknown error'}).`,
      true,
    );
  } finally {
    loading = false;
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const pasted = input.value.trim().replace(/^Bearer\s+/i, '');
  if (!pasted) return;
  token = pasted;
  sessionStorage.setItem(TOKEN_KEY, token);
  input.value = '';
  void load();
});
element('ops-refresh').addEventListener('click', () => void load());
element('ops-change-token').addEventListener('click', () => {
  form.hidden = false;
  input.focus();
});
setInterval(() => void load(), REFRESH_MS);
void load();
